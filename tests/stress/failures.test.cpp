// Stress: handlers that keep throwing under restart supervision.
#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

namespace {
struct Msg {
  long n;
};
struct Stats {};
std::atomic<long> handled_ok{0};

class Flaky : public troupe::Actor {
 public:
  void on(Msg m) {
    if (m.n % 7 == 0) {
      switch ((m.n / 7) % 3) {
        case 0: throw std::runtime_error("every seventh");
        case 1: throw static_cast<int>(m.n);
        default: throw std::bad_alloc();
      }
    }
    handled_ok.fetch_add(1, std::memory_order_relaxed);
  }
};
}  // namespace

TEST_CASE("a handler throwing every 7th message of 1,000,000 is restarted exactly that often") {
  stress::Watchdog dog("restart storm", 120s);
  const long total = stress::scaled(1'000'000);
  long expected_failures = 0;
  for (long i = 0; i < total; ++i) expected_failures += i % 7 == 0 ? 1 : 0;
  handled_ok = 0;
  troupe::System system({.workers = 2});
  auto flaky = system.spawn<Flaky>({.name = "flaky",
                                    .on_failure = troupe::OnFailure::restart,
                                    .max_restarts = 1'000'000'000,
                                    .restart_window = 1s});
  for (long i = 0; i < total; ++i) flaky.tell(Msg{i});
  std::vector<troupe::ActorInfo> rows;
  for (int tries = 0; tries < 6000; ++tries) {  // until the last turn has been counted
    rows = system.actors();
    if (rows.size() == 1 && rows[0].handled == static_cast<std::uint32_t>(total)) break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].handled == static_cast<std::uint32_t>(total));
  REQUIRE(handled_ok.load() == total - expected_failures);
  REQUIRE(rows[0].restarts == expected_failures);
  REQUIRE(rows[0].failures == expected_failures);
  REQUIRE(flaky.alive());
  REQUIRE(system.workers() == 2);
  REQUIRE(system.stats().dead_letters == 0);
}
