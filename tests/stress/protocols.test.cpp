// Stress: the Event, Semaphore and WorkQueue protocols on the deterministic scheduler,
// replayed over many seeds (each seed a different interleaving). A failing seed is printed
// and replays exactly: System({.deterministic = true, .seed = N}).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/system_actors.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

namespace {

// Everything the actors of one run report; a run is single-threaded, so plain fields.
struct Log {
  int holders = 0;
  int most_holders = 0;
  int acquired = 0;
  std::vector<int> grant_order;
  int released_waiters = 0;
  std::multiset<int> consumed;
  bool joined = false;
  int done_when_joined = -1;
  int done = 0;
};

// -- Semaphore: at most N holders; every acquirer gets a permit --------------------------------

struct Acquire {
  troupe::Semaphore sem;
  int id;
};
class Holder : public troupe::Actor {
 public:
  explicit Holder(Log* log) : log_(log) {}
  troupe::Task<void> on(Acquire a) {
    troupe::Permit permit = co_await a.sem.acquire();
    log_->grant_order.push_back(a.id);
    ++log_->acquired;
    log_->most_holders = std::max(log_->most_holders, ++log_->holders);
    co_await a.sem.available();  // yield the actor once while holding
    --log_->holders;
  }

 private:
  Log* log_;
};

// -- Event: every waiter is released by one set ----------------------------------------------

struct WaitFor {
  troupe::Event event;
};
class Waiter : public troupe::Actor {
 public:
  explicit Waiter(Log* log) : log_(log) {}
  troupe::Task<void> on(WaitFor w) {
    bool set = co_await w.event.wait();
    log_->released_waiters += set ? 1 : 0;
  }

 private:
  Log* log_;
};

// -- WorkQueue: producers, consumers, task_done, join -----------------------------------------

struct Produce {
  troupe::WorkQueue<int> queue;
  int first;
  int count;
};
struct Consume {
  troupe::WorkQueue<int> queue;
  int count;
};
class Worker : public troupe::Actor {
 public:
  explicit Worker(Log* log) : log_(log) {}
  troupe::Task<void> on(Produce p) {
    for (int i = 0; i < p.count; ++i) co_await p.queue.put(p.first + i);
  }
  troupe::Task<void> on(Consume c) {
    for (int i = 0; i < c.count; ++i) {
      int item = co_await c.queue.get();
      log_->consumed.insert(item);
      ++log_->done;
      co_await c.queue.task_done();
    }
  }

 private:
  Log* log_;
};

std::string run_seed(std::uint64_t seed) {
  Log log;
  troupe::System system({.deterministic = true, .seed = seed});

  troupe::Semaphore sem(system, 2);
  for (int i = 0; i < 6; ++i) system.spawn<Holder>(troupe::SpawnOptions{}, &log).tell(Acquire{sem, i});

  troupe::Event event(system);
  for (int i = 0; i < 5; ++i) system.spawn<Waiter>(troupe::SpawnOptions{}, &log).tell(WaitFor{event});

  // A bounded queue: producers wait for room, consumers for items; each item once.
  troupe::WorkQueue<int> queue(system, {.capacity = 3});
  for (int p = 0; p < 3; ++p) {
    system.spawn<Worker>(troupe::SpawnOptions{}, &log).tell(Produce{queue, p * 100, 10});
  }
  for (int c = 0; c < 2; ++c) {
    system.spawn<Worker>(troupe::SpawnOptions{}, &log).tell(Consume{queue, 15});
  }
  // join on a queue holding 30 unfinished items resolves exactly at the 30th task_done.
  Log join_log;
  troupe::WorkQueue<int> tasks(system);
  for (int i = 0; i < 30; ++i) tasks.put(i);
  auto joined = tasks.join().then([&join_log] {
    join_log.joined = true;
    join_log.done_when_joined = join_log.done;
  });
  for (int c = 0; c < 3; ++c) {
    system.spawn<Worker>(troupe::SpawnOptions{}, &join_log).tell(Consume{tasks, 10});
  }

  system.run_until_idle(100'000);
  event.set();
  system.run_until_idle(100'000);

  std::string violations;
  if (log.most_holders > 2) violations += " semaphore admitted " + std::to_string(log.most_holders);
  if (log.acquired != 6) violations += " acquired " + std::to_string(log.acquired) + " of 6";
  if (log.released_waiters != 5) violations += " event released " + std::to_string(log.released_waiters);
  std::multiset<int> expected;
  for (int p = 0; p < 3; ++p) {
    for (int i = 0; i < 10; ++i) expected.insert(p * 100 + i);
  }
  if (log.consumed != expected) violations += " items lost or doubled";
  if (!join_log.joined || join_log.done_when_joined != 30) {
    violations += " join resolved at " + std::to_string(join_log.done_when_joined) + " of 30";
  }
  return violations;
}

}  // namespace

TEST_CASE("10,000 seeded interleavings of the Event, Semaphore and WorkQueue protocols") {
  stress::Watchdog dog("protocol seeds", 300s);
  const long seeds = stress::scaled(10'000);
  long failures = 0;
  std::set<std::string> interleavings;
  for (long seed = 1; seed <= seeds; ++seed) {
    std::string v = run_seed(static_cast<std::uint64_t>(seed));
    if (!v.empty()) {
      ++failures;
      if (failures <= 5) UNSCOPED_INFO("seed " << seed << ":" << v);
    }
  }
  WARN("protocol seeds: " << seeds << " runs, " << failures << " violations");
  REQUIRE(failures == 0);
}
