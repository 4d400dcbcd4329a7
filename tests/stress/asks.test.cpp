// Stress: a million asks while their targets are stopped at random points; untimed asks
// whose answering turns the askers and the workers race to run.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

TEST_CASE("1,000,000 asks to targets being stopped all resolve once, promptly") {
  stress::Watchdog dog("asks vs stops", 180s);
  const long total = stress::scaled(1'000'000);
  constexpr int kTargets = 64;
  constexpr int kAskers = 2;
  troupe::System system({.workers = 2});
  auto echo = [](long n) { return n; };
  using Target = decltype(system.spawn(echo));
  std::vector<Target> targets;
  for (int i = 0; i < kTargets; ++i) targets.push_back(system.spawn(echo));
  std::mutex targets_mutex;
  std::atomic<bool> done{false};

  // The stopper: stops a random target now and then and puts a fresh one in its place.
  std::thread stopper([&] {
    std::mt19937 rng(12345);
    while (!done.load()) {
      {
        std::lock_guard lock(targets_mutex);
        auto& t = targets[rng() % kTargets];
        t.stop();
        t = system.spawn(echo);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
    }
  });

  std::atomic<long> answered{0};
  std::atomic<long> stopped{0};
  std::atomic<long> other{0};
  std::atomic<long> worst_us{0};
  std::vector<std::thread> askers;
  for (int a = 0; a < kAskers; ++a) {
    askers.emplace_back([&, a] {
      std::mt19937 rng(a + 1);
      const long mine = total / kAskers;
      constexpr long kBatch = 1000;
      std::vector<troupe::Future<long>> batch;
      batch.reserve(kBatch);
      for (long sent = 0; sent < mine; sent += kBatch) {
        batch.clear();
        for (long i = 0; i < kBatch && sent + i < mine; ++i) {
          Target t;
          {
            std::lock_guard lock(targets_mutex);
            t = targets[rng() % kTargets];
          }
          batch.push_back(t.ask(sent + i));
        }
        auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < batch.size(); ++i) {
          try {
            if (batch[i].get(2s) == sent + static_cast<long>(i)) {
              answered.fetch_add(1);
            } else {
              other.fetch_add(1);
            }
          } catch (const troupe::ActorStopped&) {
            stopped.fetch_add(1);
          } catch (...) {
            other.fetch_add(1);  // a timeout or anything else is a failure
          }
        }
        long us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
        long seen = worst_us.load();
        while (us > seen && !worst_us.compare_exchange_weak(seen, us)) {
        }
      }
    });
  }
  for (auto& t : askers) t.join();
  done = true;
  stopper.join();
  INFO("answered " << answered << ", ActorStopped " << stopped << ", worst batch wait "
                   << worst_us << " us");
  REQUIRE(other.load() == 0);
  REQUIRE(answered.load() + stopped.load() == (total / kAskers) * kAskers);
  REQUIRE(stopped.load() > 0);  // the stops really raced with the asks
  WARN("asks: " << answered << " answered, " << stopped << " failed with ActorStopped, worst "
                << "wait for a batch of 1000: " << worst_us << " us");
}

namespace {

constexpr int kSenders = 4;

struct Seq {
  int from;
  long n;
};
struct Spin {
  long left;
};
struct Total {};

/// Checks that each sender's messages arrive in the order sent; answers asks with `n`.
class Ledger : public troupe::Actor {
 public:
  explicit Ledger(std::atomic<long>* disorder) : disorder_(disorder) { last_.fill(-1); }
  long on(const Seq& s) {
    if (s.n <= last_[static_cast<std::size_t>(s.from)]) disorder_->fetch_add(1);
    last_[static_cast<std::size_t>(s.from)] = s.n;
    ++handled_;
    return s.n;
  }
  long on(Total) const { return handled_; }

 private:
  std::atomic<long>* disorder_;
  std::array<long, kSenders> last_{};
  long handled_ = 0;
};

/// Keeps a worker busy: tells itself until `left` runs out.
class Churn : public troupe::Actor {
 public:
  void on(const Spin& s) {
    if (s.left > 0) self<Churn>().tell(Spin{s.left - 1});
  }
};

}  // namespace

TEST_CASE("untimed asks from four threads racing the workers for the answering turns keep every answer and every sender's order") {
  stress::Watchdog dog("untimed asks", 180s);
  const long per_sender = stress::scaled(200'000);
  constexpr int kLedgers = 8;
  troupe::System system({.workers = 2});
  std::atomic<long> disorder{0};
  std::vector<troupe::Ref<Ledger>> ledgers;
  for (int i = 0; i < kLedgers; ++i) ledgers.push_back(system.spawn<Ledger>("", &disorder));
  // Work for the workers, so that they are sometimes busy, sometimes parked, sometimes
  // spinning when an ask arrives, and so sometimes first to a handed-over turn.
  auto churn = system.spawn<Churn>();
  churn.tell(Spin{stress::scaled(20'000'000)});

  std::atomic<long> wrong{0};
  std::atomic<long> asked{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) + 7);
      for (long n = 0; n < per_sender; ++n) {
        auto& ledger = ledgers[rng() % kLedgers];
        if (n % 3 == 0) {
          ledger.tell(Seq{t, n});
          continue;
        }
        if (ledger.ask(Seq{t, n}).get() != n) wrong.fetch_add(1);
        asked.fetch_add(1);
        if (n % 512 == 0) std::this_thread::sleep_for(200us);  // let the workers park
      }
    });
  }
  for (auto& s : senders) s.join();
  long handled = 0;
  for (auto& l : ledgers) handled += l.ask(Total{}).get(10s);
  churn.stop();
  auto stats = system.stats();
  INFO("asks " << asked << ", run on the asking thread " << stats.asker_turns);
  REQUIRE(wrong.load() == 0);
  REQUIRE(disorder.load() == 0);
  REQUIRE(handled == per_sender * kSenders);
  REQUIRE(stats.asker_turns > 0);
  REQUIRE(stats.asker_turns <= static_cast<std::uint64_t>(asked.load()));
  WARN("untimed asks: " << asked << ", of which " << stats.asker_turns
                        << " were answered on the asking thread");
}
