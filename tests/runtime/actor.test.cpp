// Tests of runtime/src/cell.cpp: the path from tell to a handler, and what an actor is.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Deposit {
  int amount;
};
struct Balance {};
struct Unknown {};

class Account : public troupe::Actor {
 public:
  void on(const Deposit& d) { balance_ += d.amount; }
  int on(const Balance&) const { return balance_; }

 private:
  int balance_ = 0;
};

}  // namespace

TEST_CASE("a told deposit is seen by a later ask") {
  troupe::System system({.workers = 2});
  auto acct = system.spawn<Account>("account");
  REQUIRE(acct.tell(Deposit{10}));
  REQUIRE(acct.tell(Deposit{32}));
  troupe::Future<int> balance = acct.ask(Balance{});
  REQUIRE(balance.get(5s) == 42);
}

TEST_CASE("tell compiles only for message types the actor handles") {
  STATIC_REQUIRE(troupe::Handles<Account, Deposit>);
  STATIC_REQUIRE(troupe::Handles<Account, const Deposit&>);
  STATIC_REQUIRE_FALSE(troupe::Handles<Account, Unknown>);
  STATIC_REQUIRE_FALSE(troupe::Handles<troupe::Actor, Deposit>);
  STATIC_REQUIRE(std::is_same_v<troupe::AskResult<Account, Balance>, int>);
  STATIC_REQUIRE(std::is_same_v<troupe::AskResult<Account, Deposit>, void>);
}
