// Conformance: CPython's Lib/test/lock_tests.py (EventTests, SemaphoreTests,
// BoundedSemaphoreTests) ported to troupe::Event and troupe::Semaphore.
//
// Each CPython case is run from plain threads (blocking in `get(timeout)`, as Python's
// threads do) and, where it means something, from inside actors whose coroutine handlers
// `co_await`. Python's `Bunch` of threads becomes a vector of std::threads; its crude
// `_wait()` sleeps become waits for what the test really needs (the event's or the
// semaphore's count of parked waiters), so nothing here depends on the machine's speed.
// Only the "a timeout takes at least this long" checks read a real clock, with no upper
// bound tighter than the test's own patience.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/system_actors.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::kPatience;
using support::outcome;

namespace {

using Clock = std::chrono::steady_clock;

/// Python's lock_tests.Bunch: `n` threads running `f`, joined by the destructor.
class Bunch {
 public:
  template <class F>
  Bunch(int n, F f) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([f, i] { f(i); });
  }
  Bunch(const Bunch&) = delete;
  Bunch& operator=(const Bunch&) = delete;
  ~Bunch() { finish(); }
  /// Waits for every thread to return.
  void finish() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::vector<std::thread> threads_;
};

/// Results appended from several threads.
template <class T>
class Results {
 public:
  void add(T v) {
    std::lock_guard lock(mutex_);
    values_.push_back(std::move(v));
  }
  std::vector<T> values() const {
    std::lock_guard lock(mutex_);
    return values_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return values_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> values_;
};

/// True if acquiring with a zero timeout gets a permit now (Python's `acquire(False)`).
/// The permit is detached, as Python's acquire keeps it until a manual release.
bool try_acquire(const troupe::Semaphore& sem) {
  try {
    sem.acquire(0s).get(kPatience).detach();
    return true;
  } catch (const troupe::TimeoutError&) {
    return false;
  }
}

// -- actors that wait
// ------------------------------------------------------------------------------

/// Waits on an event twice, like the threads of EventTests._check_notify.
struct WaitTwice {
  std::chrono::milliseconds timeout;
};
/// Waits once and answers what the wait gave.
struct WaitOnce {
  std::chrono::milliseconds timeout;
};

class EventWaiter : public troupe::Actor {
 public:
  explicit EventWaiter(troupe::Event event) : event_(std::move(event)) {}
  troupe::Task<std::vector<bool>> on(WaitTwice w) {
    bool first = co_await event_.wait(w.timeout);
    bool second = co_await event_.wait(w.timeout);
    co_return std::vector<bool>{first, second};
  }
  troupe::Task<bool> on(WaitOnce w) { co_return co_await event_.wait(w.timeout); }

 private:
  troupe::Event event_;
};

/// Acquires twice and keeps both permits (SemaphoreTests.test_acquire_contended's threads).
struct AcquireTwice {};

class Acquirer : public troupe::Actor {
 public:
  Acquirer(troupe::Semaphore sem, std::atomic<int>* phase, Results<int>* results)
      : sem_(std::move(sem)), phase_(phase), results_(results) {}
  troupe::Task<void> on(AcquireTwice) {
    first_ = co_await sem_.acquire();
    results_->add(phase_->load());
    second_ = co_await sem_.acquire();
    results_->add(phase_->load());
  }

 private:
  troupe::Semaphore sem_;
  std::atomic<int>* phase_;
  Results<int>* results_;
  troupe::Permit first_;
  troupe::Permit second_;
};

}  // namespace

// == EventTests ===================================================================================

TEST_CASE(
    "Event: is_set follows set and clear, and each is idempotent "
    "(lock_tests.EventTests.test_is_set)") {
  troupe::System system({.workers = 2});
  troupe::Event evt(system);
  REQUIRE_FALSE(evt.is_set());
  evt.set();
  REQUIRE(evt.is_set());
  evt.set();
  REQUIRE(evt.is_set());
  evt.clear();
  REQUIRE_FALSE(evt.is_set());
  evt.clear();
  REQUIRE_FALSE(evt.is_set());
}

TEST_CASE(
    "Event: one set wakes every waiting thread, before and after a clear "
    "(lock_tests.EventTests.test_notify)") {
  troupe::System system({.workers = 2});
  troupe::Event evt(system);
  constexpr int N = 5;
  auto check_notify = [&] {
    Results<bool> results1;
    Results<bool> results2;
    Bunch b(N, [&](int) {
      results1.add(evt.wait().get(kPatience));
      results2.add(evt.wait().get(kPatience));
    });
    REQUIRE(eventually([&] { return evt.waiting().get(kPatience) == N; }));
    REQUIRE(results1.size() == 0);
    evt.set();
    b.finish();
    REQUIRE(results1.values() == std::vector<bool>(N, true));
    REQUIRE(results2.values() == std::vector<bool>(N, true));
  };
  check_notify();
  evt.set();  // another time, after an explicit clear
  evt.clear();
  check_notify();
}

TEST_CASE(
    "Event: one set wakes every waiting actor, before and after a clear "
    "(lock_tests.EventTests.test_notify, from actors)") {
  troupe::System system({.workers = 2});
  troupe::Event evt(system);
  constexpr int N = 5;
  std::vector<troupe::Ref<EventWaiter>> waiters;
  for (int i = 0; i < N; ++i) waiters.push_back(system.spawn<EventWaiter>({}, evt));
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      evt.set();
      evt.clear();
    }
    std::vector<troupe::Future<std::vector<bool>>> answers;
    for (auto& w : waiters) answers.push_back(w.ask(WaitTwice{std::chrono::milliseconds(1h)}));
    REQUIRE(eventually([&] { return evt.waiting().get(kPatience) == N; }));
    for (auto& a : answers) REQUIRE_FALSE(a.ready());
    evt.set();
    for (auto& a : answers) REQUIRE(a.get(kPatience) == std::vector<bool>{true, true});
    evt.clear();
  }
}

TEST_CASE(
    "Event: a wait with a timeout returns false when never set, true once set "
    "(lock_tests.EventTests.test_timeout)") {
  troupe::System system({.workers = 2});
  troupe::Event evt(system);
  constexpr int N = 5;
  constexpr auto kTimeout = 50ms;
  struct Timed {
    bool result;
    Clock::duration took;
  };
  auto run = [&] {
    Results<bool> results1;
    Results<Timed> results2;
    Bunch(N, [&](int) {
      results1.add(evt.wait(0s).get(kPatience));
      auto t1 = Clock::now();
      bool r = evt.wait(kTimeout).get(kPatience);
      results2.add(Timed{r, Clock::now() - t1});
    });
    return std::pair{results1.values(), results2.values()};
  };
  auto [first, second] = run();
  REQUIRE(first == std::vector<bool>(N, false));
  for (auto& [r, took] : second) {
    REQUIRE_FALSE(r);
    REQUIRE(took >= kTimeout);  // the timeout IS the semantics; no upper bound but patience
  }
  evt.set();  // the event is set: every wait answers true
  auto [after_first, after_second] = run();
  REQUIRE(after_first == std::vector<bool>(N, true));
  for (auto& [r, took] : after_second) REQUIRE(r);
}

TEST_CASE(
    "Event: an actor's wait with a timeout answers false exactly when due on the system "
    "clock (lock_tests.EventTests.test_timeout, from actors)") {
  support::ClockedSystem s;
  troupe::Event evt(s.system);
  auto waiter = s.system.spawn<EventWaiter>({}, evt);
  REQUIRE(outcome(waiter.ask(WaitOnce{0ms})) == "false");
  auto timed = waiter.ask(WaitOnce{500ms});
  REQUIRE(eventually([&] { return evt.waiting().get(kPatience) == 1; }));
  s.clock->advance(499ms);
  REQUIRE(evt.waiting().get(kPatience) == 1);
  REQUIRE_FALSE(timed.ready());
  s.clock->advance(1ms);
  REQUIRE(outcome(timed) == "false");
  evt.set();
  REQUIRE(outcome(waiter.ask(WaitOnce{0ms})) == "true");
  REQUIRE(outcome(waiter.ask(WaitOnce{500ms})) == "true");
}

TEST_CASE(
    "Event: waiters woken by a set return true even if the event is cleared at once "
    "(lock_tests.EventTests.test_set_and_clear)") {
  troupe::System system({.workers = 2});
  troupe::Event evt(system);
  constexpr int N = 5;
  Results<bool> results;
  auto actor = system.spawn<EventWaiter>({}, evt);
  auto from_actor = actor.ask(WaitOnce{10'000ms});
  Bunch b(N, [&](int) { results.add(evt.wait(10s).get(kPatience)); });
  REQUIRE(eventually([&] { return evt.waiting().get(kPatience) == N + 1; }));
  evt.set();
  evt.clear();
  b.finish();
  REQUIRE(results.values() == std::vector<bool>(N, true));
  REQUIRE(outcome(from_actor) == "true");
  REQUIRE_FALSE(evt.is_set());
}

TEST_CASE(
    "Event: a negative timeout polls the flag as a zero one does (Python's Event.wait "
    "returns False for it too; lock_tests.EventTests.test_timeout)") {
  troupe::System system({.workers = 2});
  troupe::Event evt(system);
  auto unset = evt.wait(-1s);
  REQUIRE(unset.ready());  // answered at once, never parked
  REQUIRE(outcome(unset) == "false");
  REQUIRE(outcome(evt.wait(troupe::Clock::duration::min())) == "false");
  evt.set();
  REQUIRE(outcome(evt.wait(-1s)) == "true");
}

TEST_CASE(
    "Event: the largest timeout means no timeout, not an overflow "
    "(lock_tests.BaseLockTests.test_timeout, TIMEOUT_MAX is ok)") {
  support::ClockedSystem s;
  troupe::Event evt(s.system);
  auto forever = evt.wait(troupe::Clock::duration::max());
  REQUIRE(eventually([&] { return evt.waiting().get(kPatience) == 1; }));
  s.clock->advance(24h * 365 * 50);
  REQUIRE(evt.waiting().get(kPatience) == 1);
  REQUIRE_FALSE(forever.ready());
  evt.set();
  REQUIRE(outcome(forever) == "true");
}

// == SemaphoreTests / BoundedSemaphoreTests =======================================================

TEST_CASE(
    "Semaphore: a negative initial value is refused at construction "
    "(lock_tests.BaseSemaphoreTests.test_constructor)") {
  troupe::System system({.workers = 1});
  REQUIRE_THROWS_AS(troupe::Semaphore(system, -1), std::invalid_argument);
  REQUIRE_THROWS_AS(troupe::Semaphore(system, std::numeric_limits<long long>::min()),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(troupe::Semaphore(system, -1, {.bounded = true}), std::invalid_argument);
  REQUIRE_THROWS_WITH(troupe::Semaphore(system, -5), Catch::Contains("-5"));
  REQUIRE_THROWS_AS(troupe::Semaphore(system, 1LL << 40), std::invalid_argument);
  troupe::Semaphore zero(system, 0);  // zero is fine: every acquire waits for a release
  REQUIRE(zero.available().get(kPatience) == 0);
}

TEST_CASE(
    "Semaphore: acquire and release, one and two permits "
    "(lock_tests.BaseSemaphoreTests.test_acquire)") {
  troupe::System system({.workers = 2});
  bool bounded = GENERATE(false, true);
  troupe::Semaphore one(system, 1, {.bounded = bounded});
  {
    troupe::Permit p = one.acquire().get(kPatience);
    REQUIRE(p.held());
  }
  troupe::Semaphore two(system, 2, {.bounded = bounded});
  troupe::Permit a = two.acquire().get(kPatience);
  troupe::Permit b = two.acquire().get(kPatience);
  REQUIRE(two.available().get(kPatience) == 0);
  a.release();
  b.release();
  REQUIRE(eventually([&] { return two.available().get(kPatience) == 2; }));
  REQUIRE(eventually([&] { return one.available().get(kPatience) == 1; }));
}

TEST_CASE(
    "Semaphore: dropping the semaphore while a permit is held is harmless "
    "(lock_tests.BaseSemaphoreTests.test_acquire_destroy)") {
  troupe::System system({.workers = 2});
  troupe::Permit held;
  {
    troupe::Semaphore sem(system, 1);
    held = sem.acquire().get(kPatience);
  }
  REQUIRE(held.held());
  held.release();  // goes to a stopped (or stopping) actor: nothing happens
  REQUIRE_FALSE(held.held());
}

TEST_CASE(
    "Semaphore: contended acquires from threads proceed exactly as permits are released "
    "(lock_tests.BaseSemaphoreTests.test_acquire_contended)") {
  troupe::System system({.workers = 2});
  bool bounded = GENERATE(false, true);
  troupe::Semaphore sem(system, 7, {.bounded = bounded});
  sem.acquire().get(kPatience).detach();
  constexpr int N = 10;
  std::atomic<int> phase_num{0};
  Results<int> results;
  Bunch b(N, [&](int) {
    sem.acquire().get(kPatience).detach();  // Python style: kept until a manual release
    results.add(phase_num.load());
    sem.acquire().get(kPatience).detach();
    results.add(phase_num.load());
  });
  REQUIRE(eventually([&] { return results.size() == 6; }));
  REQUIRE(sem.available().get(kPatience) == 0);
  REQUIRE(results.values() == std::vector<int>(6, 0));
  phase_num = 1;
  for (int i = 0; i < 7; ++i) REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(eventually([&] { return results.size() == 13; }));
  phase_num = 2;
  for (int i = 0; i < 6; ++i) REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(eventually([&] { return results.size() == 19; }));
  auto got = results.values();
  std::sort(got.begin(), got.end());
  std::vector<int> expected(6, 0);
  expected.insert(expected.end(), 7, 1);
  expected.insert(expected.end(), 6, 2);
  REQUIRE(got == expected);
  REQUIRE_FALSE(try_acquire(sem));             // the semaphore is still locked
  REQUIRE(outcome(sem.release()) == "value");  // the final release lets the last one finish
  b.finish();
  REQUIRE(results.size() == 20);
}

TEST_CASE(
    "Semaphore: contended acquires from actors proceed exactly as permits are released "
    "(lock_tests.BaseSemaphoreTests.test_acquire_contended, from actors)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 7);
  troupe::Permit mine = sem.acquire().get(kPatience);
  constexpr int N = 10;
  std::atomic<int> phase_num{0};
  Results<int> results;
  std::vector<troupe::Ref<Acquirer>> actors;
  for (int i = 0; i < N; ++i) {
    actors.push_back(system.spawn<Acquirer>({}, sem, &phase_num, &results));
    actors.back().tell(AcquireTwice{});
  }
  REQUIRE(eventually([&] { return results.size() == 6; }));
  REQUIRE(sem.available().get(kPatience) == 0);
  REQUIRE(results.values() == std::vector<int>(6, 0));
  // Each actor keeps its permits. One release lets exactly one more waiter through; then
  // stopping every actor gives all permits back (troupe reclaims the permits of an actor
  // that ends, and forgets its pending acquire).
  phase_num = 1;
  mine.release();
  REQUIRE(eventually([&] { return results.size() == 7; }));
  REQUIRE(results.values().back() == 1);
  REQUIRE(sem.available().get(kPatience) == 0);
  for (auto& a : actors) a.stop();
  REQUIRE(eventually([&] { return sem.available().get(kPatience) == 7; }));
  REQUIRE(sem.waiting().get(kPatience) == 0);
}

TEST_CASE(
    "Semaphore: a zero timeout takes a free permit or fails at once "
    "(lock_tests.BaseSemaphoreTests.test_try_acquire)") {
  troupe::System system({.workers = 2});
  bool bounded = GENERATE(false, true);
  troupe::Semaphore sem(system, 2, {.bounded = bounded});
  REQUIRE(try_acquire(sem));
  REQUIRE(try_acquire(sem));
  REQUIRE_FALSE(try_acquire(sem));
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(try_acquire(sem));
}

TEST_CASE(
    "Semaphore: zero-timeout acquires from several threads take exactly the free permits "
    "(lock_tests.BaseSemaphoreTests.test_try_acquire_contended)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 4);
  sem.acquire().get(kPatience).detach();
  Results<bool> results;
  Bunch(5, [&](int) {
    results.add(try_acquire(sem));
    results.add(try_acquire(sem));
  });
  auto got = results.values();
  REQUIRE(std::count(got.begin(), got.end(), true) == 3);
  REQUIRE(std::count(got.begin(), got.end(), false) == 7);
}

TEST_CASE(
    "Semaphore: an acquire with a timeout gets a free permit or fails with TimeoutError "
    "after at least that long (lock_tests.BaseSemaphoreTests.test_acquire_timeout)") {
  troupe::System system({.workers = 2});
  bool bounded = GENERATE(false, true);
  troupe::Semaphore sem(system, 2, {.bounded = bounded});
  sem.acquire(5ms).get(kPatience).detach();
  sem.acquire(5ms).get(kPatience).detach();
  REQUIRE(outcome(sem.acquire(5ms)) == "TimeoutError");  // Python returns False
  REQUIRE(outcome(sem.release()) == "value");
  sem.acquire(5ms).get(kPatience).detach();
  auto t = Clock::now();
  auto late = sem.acquire(50ms);
  REQUIRE(outcome(late) == "TimeoutError");
  REQUIRE(Clock::now() - t >= 50ms);
  REQUIRE_THROWS_WITH(late.get(kPatience), Catch::Contains("50 ms"));
}

TEST_CASE(
    "Semaphore: a negative timeout polls as a zero one does "
    "(lock_tests.BaseSemaphoreTests.test_acquire_timeout)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 1);
  troupe::Permit p = sem.acquire(-1s).get(kPatience);  // free: granted
  REQUIRE(p.held());
  auto refused = sem.acquire(-1s);
  REQUIRE(outcome(refused) == "TimeoutError");  // taken: refused at once, never parked
  REQUIRE(sem.waiting().get(kPatience) == 0);
}

TEST_CASE(
    "Semaphore: a waiter proceeds only after the permit comes back "
    "(lock_tests.BaseSemaphoreTests.test_default_value)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 1);  // troupe has no default: the count is always given
  troupe::Permit held = sem.acquire().get(kPatience);
  std::atomic<bool> finished{false};
  Bunch b(1, [&](int) {
    troupe::Permit p = sem.acquire().get(kPatience);
    finished = true;
  });
  REQUIRE(eventually([&] { return sem.waiting().get(kPatience) == 1; }));
  REQUIRE_FALSE(finished.load());
  held.release();
  b.finish();
  REQUIRE(finished.load());
}

TEST_CASE(
    "Semaphore: a scoped permit is released when its scope ends, by an exception too "
    "(lock_tests.BaseSemaphoreTests.test_with)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 2);
  auto with = [&](bool raise) {
    troupe::Permit outer = sem.acquire().get(kPatience);
    { troupe::Permit inner = sem.acquire(0s).get(kPatience); }
    troupe::Permit inner = sem.acquire().get(kPatience);
    REQUIRE_FALSE(try_acquire(sem));
    if (raise) throw std::invalid_argument("raised inside the with block");
  };
  with(false);
  troupe::Permit p = sem.acquire(1s).get(kPatience);
  p.release();
  REQUIRE_THROWS_AS(with(true), std::invalid_argument);
  REQUIRE(eventually([&] { return sem.available().get(kPatience) == 2; }));
}

TEST_CASE(
    "Semaphore: a permit held across co_await inside an actor is released when the "
    "handler ends, by an exception too (lock_tests.BaseSemaphoreTests.test_with, from "
    "actors)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 2);
  auto actor = system.spawn({.on_failure = troupe::OnFailure::resume},
                            [sem](bool raise) -> troupe::Task<unsigned> {
                              troupe::Permit outer = co_await sem.acquire(1s);
                              troupe::Permit inner = co_await sem.acquire(1s);
                              unsigned inside = co_await sem.available();
                              if (raise) throw std::invalid_argument("raised inside");
                              co_return inside;
                            });
  REQUIRE(actor.ask(false).get(kPatience) == 0);
  REQUIRE(eventually([&] { return sem.available().get(kPatience) == 2; }));
  REQUIRE_THROWS_AS(actor.ask(true).get(kPatience), std::invalid_argument);
  REQUIRE(eventually([&] { return sem.available().get(kPatience) == 2; }));
}

TEST_CASE(
    "Semaphore: an unbounded semaphore released beyond its start gains a permit "
    "(lock_tests.SemaphoreTests.test_release_unacquired)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 1);
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(try_acquire(sem));
  REQUIRE(try_acquire(sem));
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(sem.available().get(kPatience) == 1);
}

TEST_CASE(
    "BoundedSemaphore: a release beyond the initial value fails with UsageError "
    "(lock_tests.BoundedSemaphoreTests.test_release_unacquired)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 1, {.bounded = true});
  REQUIRE(outcome(sem.release()) == "UsageError");  // Python raises ValueError
  sem.acquire().get(kPatience).detach();
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(outcome(sem.release()) == "UsageError");
  REQUIRE(sem.available().get(kPatience) == 1);  // the refused releases changed nothing
}

TEST_CASE(
    "BoundedSemaphore: an actor's release beyond the initial value fails with UsageError "
    "where it awaits it (lock_tests.BoundedSemaphoreTests.test_release_unacquired, from "
    "actors)") {
  troupe::System system({.workers = 2});
  troupe::Semaphore sem(system, 1, {.bounded = true});
  auto actor = system.spawn([sem](int) -> troupe::Task<std::string> {
    std::string seen;
    try {
      co_await sem.release();
      seen += "released ";
    } catch (const troupe::UsageError&) {
      seen += "refused ";
    }
    troupe::Permit p = co_await sem.acquire();
    p.detach();
    co_await sem.release();
    seen += "released";
    co_return seen;
  });
  REQUIRE(actor.ask(0).get(kPatience) == "refused released");
  REQUIRE(sem.available().get(kPatience) == 1);
}

TEST_CASE(
    "Event and Semaphore: a timeout too long for nanoseconds means no timeout, not an "
    "immediate one (lock_tests.BaseLockTests.test_timeout: TIMEOUT_MAX is ok)") {
  support::ClockedSystem s;
  troupe::Event evt(s.system);
  auto by_hours = evt.wait(std::chrono::hours::max());
  auto by_ms = evt.wait(std::chrono::milliseconds::max());
  troupe::Semaphore sem(s.system, 0);
  auto acquire = sem.acquire(std::chrono::hours::max());
  REQUIRE(eventually([&] { return evt.waiting().get(kPatience) == 2; }));
  REQUIRE(eventually([&] { return sem.waiting().get(kPatience) == 1; }));
  s.clock->advance(24h * 365 * 50);
  REQUIRE(evt.waiting().get(kPatience) == 2);
  REQUIRE(sem.waiting().get(kPatience) == 1);
  evt.set();
  REQUIRE(outcome(by_hours) == "true");
  REQUIRE(outcome(by_ms) == "true");
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(outcome(acquire) == "value");
}
