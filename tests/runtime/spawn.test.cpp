// Tests of how System::spawn and Actor::spawn read their arguments (system.hpp): options
// first, a string name first, or constructor arguments only; the same rule for both.
#include <chrono>
#include <string>
#include <type_traits>
#include <utility>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using support::kPatience;

namespace {

struct Balance {};
struct Open {
  long amount;
};

class Account : public troupe::Actor {
 public:
  Account() = default;
  explicit Account(long balance) : balance_(balance) {}
  long on(const Balance&) { return balance_; }

 private:
  long balance_ = 0;
};

class Logger : public troupe::Actor {
 public:
  explicit Logger(std::string path) : path_(std::move(path)) {}
  std::string on(const Balance&) { return path_; }

 private:
  std::string path_;
};

/// Spawns children every way System can, and answers with their names and balances.
class Bank : public troupe::Actor {
 public:
  std::string on(const Open& o) {
    auto plain = spawn<Account>(o.amount);
    auto named = spawn<Account>("savings", o.amount + 1);
    auto with_options = spawn<Account>({.name = "checking"}, o.amount + 2);
    auto empty = spawn<Account>();
    auto function = spawn("teller", [](int n) { return n + 1; });
    plain.tell(Balance{});
    return std::string(named.name()) + "," + std::string(with_options.name()) + "," +
           std::string(function.name()) + "," + std::to_string(empty ? 1 : 0);
  }
};

}  // namespace

TEST_CASE("spawn<T>(args...) with no name or options passes every argument to T's constructor") {
  troupe::System system({.workers = 1});
  auto account = system.spawn<Account>(1000L);
  CHECK(account.ask(Balance{}).get(kPatience) == 1000);
  CHECK(account.name().empty());
}

TEST_CASE("spawn<T>(\"name\", args...) names the actor and builds it from the rest") {
  troupe::System system({.workers = 1});
  auto account = system.spawn<Account>("acct", 1000L);
  CHECK(account.name() == "acct");
  CHECK(account.ask(Balance{}).get(kPatience) == 1000);
  auto found = system.find<Account>("acct");
  REQUIRE(found);
  CHECK(*found == account);
}

TEST_CASE("spawn<T>({options}, args...) and spawn<T>({}, args...) take options, then arguments") {
  troupe::System system({.workers = 1});
  auto daemon = system.spawn<Account>({.name = "d", .daemon = true}, 7L);
  auto unnamed = system.spawn<Account>({}, 8L);
  CHECK(daemon.name() == "d");
  CHECK(daemon.ask(Balance{}).get(kPatience) == 7);
  CHECK(unnamed.ask(Balance{}).get(kPatience) == 8);
}

TEST_CASE("a string meant for the constructor goes after {}, a string name in the options") {
  troupe::System system({.workers = 1});
  auto logger = system.spawn<Logger>({}, std::string("app.log"));
  CHECK(logger.name().empty());
  CHECK(logger.ask(Balance{}).get(kPatience) == "app.log");
  auto named = system.spawn<Logger>({.name = std::string("log")}, std::string("b.log"));
  CHECK(named.name() == "log");
  CHECK(named.ask(Balance{}).get(kPatience) == "b.log");
}

TEST_CASE("a string first that T could also take is refused at compile time, not guessed") {
  // Not compiled: tests/compile_fail/spawn_string_ambiguous.cpp checks the error text.
  // Here: the overloads that do compile still mean what the rule says.
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<troupe::System&>().spawn<Account>("a")),
                                troupe::Ref<Account>>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<troupe::System&>().spawn<Account>(1L)),
                                troupe::Ref<Account>>);
}

TEST_CASE("Actor::spawn reads its arguments exactly as System::spawn does") {
  troupe::System system({.workers = 2});
  auto bank = system.spawn<Bank>("bank");
  CHECK(bank.ask(Open{5}).get(kPatience) == "savings,checking,teller,1");
}
