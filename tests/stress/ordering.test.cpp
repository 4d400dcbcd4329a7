// Stress: per-sender FIFO and no loss at volume, on pools of 1, 2 and 8 workers.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

namespace {
constexpr int kSenders = 8;
struct Seq {
  int sender;
  long n;
};
struct Result {
  long received = 0;
  long violations = 0;
};
struct Report {};
class Checker : public troupe::Actor {
 public:
  void on(const Seq& s) {
    if (s.n != last_[s.sender] + 1) ++result_.violations;
    last_[s.sender] = s.n;
    ++result_.received;
  }
  Result on(Report) const { return result_; }

 private:
  long last_[kSenders] = {-1, -1, -1, -1, -1, -1, -1, -1};
  Result result_;
};
class Sender : public troupe::Actor {
 public:
  Sender(troupe::Ref<Checker> to, int id) : to_(std::move(to)), id_(id) {}
  void on(long count) {
    for (long i = 0; i < count; ++i) to_.tell(Seq{id_, i});
  }

 private:
  troupe::Ref<Checker> to_;
  int id_;
};
}  // namespace

TEST_CASE("8 senders x 1,250,000 messages arrive in order per sender, all of them") {
  const long per_sender = stress::scaled(1'250'000);
  for (unsigned workers : {1u, 2u, 8u}) {
    INFO("workers: " << workers);
    stress::Watchdog dog("fifo with " + std::to_string(workers) + " workers", 120s);
    troupe::System system({.workers = workers});
    auto checker = system.spawn<Checker>("checker");
    // Half the senders are actors, half plain threads: both paths into a mailbox.
    std::vector<std::thread> threads;
    for (int s = 0; s < kSenders; ++s) {
      if (s % 2 == 0) {
        system.spawn<Sender>(troupe::SpawnOptions{}, checker, s).tell(per_sender);
      } else {
        threads.emplace_back([&, s] {
          for (long i = 0; i < per_sender; ++i) checker.tell(Seq{s, i});
        });
      }
    }
    for (auto& t : threads) t.join();
    Result r;
    for (int tries = 0; tries < 6000; ++tries) {
      r = checker.ask(Report{}).get(10s);
      if (r.received == per_sender * kSenders) break;
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(r.received == per_sender * kSenders);
    REQUIRE(r.violations == 0);
    REQUIRE(system.stats().dead_letters == 0);
  }
}
