// Stress: shutdown with work queued, and shutdown racing with senders and spawners.
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/system_actors.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

namespace {
struct Tick {};
struct Work {
  long n;
};
class Busy : public troupe::Actor {
 public:
  explicit Busy(std::atomic<long>* handled) : handled_(handled) {}
  void on(Work) { handled_->fetch_add(1, std::memory_order_relaxed); }
  void on(Tick) {}

 private:
  std::atomic<long>* handled_;
};
// Takes a permit and keeps it; the next ones wait in the semaphore until shutdown.
struct Take {
  troupe::Semaphore sem;
};
class Taker : public troupe::Actor {
 public:
  troupe::Task<void> on(Take t) {
    try {
      permit_ = co_await t.sem.acquire();
    } catch (const troupe::Error&) {
      // cancelled by the shutdown: the expected end for a waiter
    }
  }

 private:
  troupe::Permit permit_;
};
}  // namespace

TEST_CASE("shutdown with 100,000 messages queued over 1,000 actors: drain handles all, drop accounts for all") {
  const long total = stress::scaled(100'000);
  for (auto mode : {troupe::StopMode::drain, troupe::StopMode::drop}) {
    stress::Watchdog dog("shutdown with queued work", 60s);
    std::atomic<long> handled{0};
    std::uint64_t dead = 0;
    {
      troupe::System system({.workers = 2});
      std::vector<troupe::Ref<Busy>> actors;
      for (int i = 0; i < 1000; ++i) actors.push_back(system.spawn<Busy>(troupe::SpawnOptions{}, &handled));
      for (long i = 0; i < total; ++i) actors[i % 1000].tell(Work{i});
      bool clean = system.shutdown(30s, mode);
      REQUIRE(clean);
      dead = system.stats().dead_letters;
    }
    if (mode == troupe::StopMode::drain) {
      REQUIRE(handled.load() == total);
      REQUIRE(dead == 0);
    } else {
      REQUIRE(handled.load() + static_cast<long>(dead) == total);
    }
  }
}

TEST_CASE("10,000 shutdowns racing with senders, spawners, timers and semaphore waiters never hang") {
  const long rounds = stress::scaled(10'000);
  std::mt19937 rng(7);
  long slowest_ms = 0;
  for (long round = 0; round < rounds; ++round) {
    stress::Watchdog dog("shutdown race round " + std::to_string(round), 5s);
    auto start = std::chrono::steady_clock::now();
    std::atomic<long> handled{0};
    troupe::System system({.workers = 2});
    std::vector<troupe::Ref<Busy>> actors;
    for (int i = 0; i < 100; ++i) {
      actors.push_back(system.spawn<Busy>(troupe::SpawnOptions{.daemon = i % 2 == 0}, &handled));
      system.every(std::chrono::microseconds(100 + i), actors.back(), Tick{});
    }
    troupe::Semaphore sem(system, 2);  // 2 holders, 8 waiters still queued at shutdown
    for (int i = 0; i < 10; ++i) system.spawn<Taker>().tell(Take{sem});
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        actors[n % 100].tell(Work{n});
        if (++n % 64 == 0) std::this_thread::yield();  // race, without a flood to drain
      }
    });
    std::thread spawner([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        try {
          system.spawn<Busy>(troupe::SpawnOptions{}, &handled).tell(Work{0});
        } catch (const troupe::ShutdownError&) {
          break;  // the expected answer once shutdown has begun
        }
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
    system.shutdown(std::chrono::milliseconds(rng() % 3 == 0 ? 0 : 50),
                    rng() % 2 == 0 ? troupe::StopMode::drain : troupe::StopMode::drop);
    stop = true;
    sender.join();
    spawner.join();
    REQUIRE(system.count() == 0);
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    slowest_ms = std::max(slowest_ms, ms);
  }
  WARN("shutdown races: " << rounds << " rounds, slowest " << slowest_ms << " ms");
}
