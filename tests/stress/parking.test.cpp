// Stress: waking parked workers, again and again, with irregular gaps.
#include <chrono>
#include <random>
#include <thread>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

TEST_CASE("100,000 round trips with random 0-50 us gaps never stall over 100 ms") {
  stress::Watchdog dog("parking round trips", 120s);
  const long rounds = stress::scaled(100'000);
  troupe::System system({.workers = 2});
  auto pong = system.spawn("pong", [](long n) { return n + 1; });
  std::mt19937 rng(99);
  std::chrono::steady_clock::duration worst{};
  for (long i = 0; i < rounds; ++i) {
    auto start = std::chrono::steady_clock::now();
    REQUIRE(pong.ask(i).get(5s) == i + 1);
    worst = std::max(worst, std::chrono::steady_clock::now() - start);
    auto gap = std::chrono::microseconds(rng() % 51);
    auto until = std::chrono::steady_clock::now() + gap;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  auto worst_us = std::chrono::duration_cast<std::chrono::microseconds>(worst).count();
  WARN("parking: worst round trip " << worst_us << " us over " << rounds << " rounds; parks "
                                    << system.stats().worker_sleeps);
  REQUIRE(worst < 100ms);
}
