// Stress: a million asks while their targets are stopped at random points.
#include <algorithm>
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
