// Stress: idle workers stealing from a busy worker's run-next slot, while that worker's own
// take (plain loads and stores, see Scheduler::take_run_next) races with them.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

namespace {

struct Hit {
  long n;
};

/// Half of a bouncing pair. Every few hits its handler runs long enough (a spin of ~40 us)
/// that an idle worker steals the peer it has just woken. Counts any moment two turns of
/// the same actor overlap, which the scheduler must never allow.
class Bouncer : public troupe::Actor {
 public:
  Bouncer(std::atomic<long>* hits, std::atomic<long>* overlaps, long last)
      : hits_(hits), overlaps_(overlaps), last_(last) {}
  bool on(troupe::Ref<Bouncer> peer) {
    peer_ = std::move(peer);
    return true;
  }
  void on(Hit h) {
    if (inside_.exchange(true)) overlaps_->fetch_add(1);
    hits_->fetch_add(1);
    if (h.n < last_) {
      peer_.tell(Hit{h.n + 1});
    } else {  // the last hit ends the pair
      peer_.stop();
      stop();
    }
    if (h.n % 14 == 0) {  // long enough to pass the thieves' 20 us patience (kStuckAfter)
      auto until = std::chrono::steady_clock::now() + 40us;
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    inside_.store(false);
  }

 private:
  std::atomic<long>* hits_;
  std::atomic<long>* overlaps_;
  long last_;
  troupe::Ref<Bouncer> peer_;
  std::atomic<bool> inside_{false};
};

/// Waits until `hits` reaches `target`, for at most a minute.
bool wait_for_hits(const std::atomic<long>& hits, long target) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (hits.load() < target && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  return hits.load() >= target;
}

}  // namespace

TEST_CASE("actors stolen from a busy worker's run-next slot never run twice at once") {
  const long hits_per_pair = stress::scaled(300'000);
  for (unsigned workers : {2u, 3u}) {
    INFO("workers: " << workers);
    stress::Watchdog dog("run-next stealing with " + std::to_string(workers) + " workers", 120s);
    troupe::System system({.workers = workers});
    std::atomic<long> hits{0};
    std::atomic<long> overlaps{0};
    // Fewer pairs than workers: there is always an idle worker looking for something to steal.
    const unsigned pairs = workers - 1;
    for (unsigned p = 0; p < pairs; ++p) {
      auto left = system.spawn<Bouncer>("left-" + std::to_string(p), &hits, &overlaps, hits_per_pair - 1);
      auto right = system.spawn<Bouncer>("right-" + std::to_string(p), &hits, &overlaps, hits_per_pair - 1);
      REQUIRE(left.ask(right).get(10s));
      REQUIRE(right.ask(left).get(10s));
      left.tell(Hit{0});
    }
    // Messages from outside keep waking the idle worker, which then spins looking for work
    // (and steals) instead of sleeping through the test.
    auto tick = system.spawn([](int) {});
    std::atomic<bool> done{false};
    std::thread nudger([&] {
      while (!done.load()) {
        tick.tell(0);
        std::this_thread::sleep_for(20us);
      }
    });
    bool ended = wait_for_hits(hits, static_cast<long>(pairs) * hits_per_pair);
    done.store(true);
    nudger.join();
    tick.stop();
    REQUIRE(ended);
    REQUIRE(system.join(60s));  // every pair ends itself after hits_per_pair hits
    CHECK(hits.load() == static_cast<long>(pairs) * hits_per_pair);
    CHECK(overlaps.load() == 0);
    CHECK(system.stats().steals > 0);
    WARN("stealing, " << workers << " workers: " << system.stats().steals << " steals in "
                      << hits.load() << " hits");
  }
}
