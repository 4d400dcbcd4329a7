// Conformance: CPython's Lib/test/test_concurrent_futures (ExecutorTest, ShutdownTest,
// WaitTests, AsCompletedTests, FutureTests) ported to System::submit/map, troupe::Future,
// Promise, when_all and when_any.
//
// The shapes map like this: `executor.submit` is `system.submit`; `executor.map` is
// `system.map`, one future of every result; `wait(FIRST_COMPLETED)` is `when_any`;
// `wait(FIRST_EXCEPTION)` is `when_all` (it fails at the first error); `wait(ALL_COMPLETED)`
// is `when_all` over `settled(f)` below; `as_completed` is `when_any` over what is left;
// `add_done_callback` is `Future::on_ready`. Python's futures that sleep to stay pending
// are futures of promises nobody has set yet, so nothing here waits on the clock except
// where a timeout is what is tested.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::kPatience;
using support::outcome;

namespace {

using SteadyClock = std::chrono::steady_clock;

int mul(int x, int y) { return x * y; }

/// A future already complete with a value (CPython's SUCCESSFUL_FUTURE).
troupe::Future<int> successful_future() { return troupe::Future<int>::ready_with(42); }
/// A future that already failed (CPython's EXCEPTION_FUTURE).
troupe::Future<int> exception_future() {
  return troupe::Future<int>::failed(std::make_exception_ptr(std::runtime_error("boom")));
}

/// A future of nothing that completes when `f` does, whatever its outcome: the building
/// block of wait(ALL_COMPLETED), since when_all itself stops at the first error.
template <class R>
troupe::Future<void> settled(const troupe::Future<R>& f) {
  auto done = std::make_shared<troupe::Promise<void>>();
  f.on_ready([done](const troupe::Future<R>&) { done->set_value(); });
  return done->future();
}

template <class R>
troupe::Future<void> all_settled(const std::vector<troupe::Future<R>>& fs) {
  std::vector<troupe::Future<void>> each;
  for (const auto& f : fs) each.push_back(settled(f));
  return troupe::when_all(std::move(each));
}

/// as_completed from a plain thread: the indices of `fs` in the order they complete, each
/// once (a future given twice counts once). Throws TimeoutError if the rest do not all
/// complete within `timeout`; what completed before that is in `yielded`.
template <class R>
void as_completed(const std::vector<troupe::Future<R>>& fs, std::chrono::milliseconds timeout,
                  std::vector<std::size_t>& yielded) {
  std::vector<std::size_t> left;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    bool duplicate = false;
    for (std::size_t j : left) duplicate |= fs[j] == fs[i];
    if (!duplicate) left.push_back(i);
  }
  auto deadline = SteadyClock::now() + timeout;
  while (!left.empty()) {
    std::vector<troupe::Future<R>> pending;
    for (std::size_t i : left) pending.push_back(fs[i]);
    auto remaining = std::max(SteadyClock::duration::zero(), deadline - SteadyClock::now());
    std::size_t first = troupe::when_any(pending).get(remaining);
    yielded.push_back(left[first]);
    left.erase(left.begin() + static_cast<std::ptrdiff_t>(first));
  }
}

/// Keeps a worker busy until released (a submitted function standing in for Python's
/// `time.sleep` in a pool thread).
struct Gate {
  std::atomic<bool> open{false};
  std::atomic<int> entered{0};
  void pass() {
    entered.fetch_add(1);
    while (!open.load()) std::this_thread::sleep_for(1ms);
  }
};

}  // namespace

// == ExecutorTest =================================================================================

TEST_CASE(
    "Executor: submit runs the function and its future has the result "
    "(test_concurrent_futures.ExecutorTest.test_submit)") {
  troupe::System system({.workers = 2});
  auto future = system.submit([](double base, double exp) { return std::pow(base, exp); }, 2, 8);
  REQUIRE(future.get(kPatience) == 256);
  REQUIRE(system.submit(mul, 2, 21).get(kPatience) == 42);
}

TEST_CASE(
    "Executor: submit from inside an actor is awaited without blocking its worker "
    "(test_concurrent_futures.ExecutorTest.test_submit, from actors)") {
  troupe::System system({.workers = 1});
  auto actor = system.spawn([&system](int x) -> troupe::Task<int> {
    int doubled = co_await system.submit(mul, x, 2);
    std::vector<int> items{1, 2, 3};
    std::vector<int> squares = co_await system.map([](int v) { return v * v; }, items);
    co_return doubled + squares[0] + squares[1] + squares[2];
  });
  REQUIRE(actor.ask(21).get(kPatience) == 42 + 14);
}

TEST_CASE(
    "Executor: map gives every result in input order "
    "(test_concurrent_futures.ExecutorTest.test_map)") {
  troupe::System system({.workers = 2});
  std::vector<int> items(10);
  for (int i = 0; i < 10; ++i) items[static_cast<std::size_t>(i)] = i;
  auto results = system.map([](int i) { return static_cast<long>(std::pow(i, i)); }, items);
  std::vector<long> expected;
  for (int i : items) expected.push_back(static_cast<long>(std::pow(i, i)));
  REQUIRE(results.get(kPatience) == expected);
}

TEST_CASE(
    "Executor: map fails with the function's exception "
    "(test_concurrent_futures.ExecutorTest.test_map_exception)") {
  troupe::System system({.workers = 2});
  std::vector<int> divisors{1, 0, 2};
  auto results = system.map(
      [](int d) {
        if (d == 0) throw std::domain_error("division by zero");
        return 10 / d;
      },
      divisors);
  // Python yields 10 and then raises at the second item; troupe's one future fails.
  REQUIRE_THROWS_AS(results.get(kPatience), std::domain_error);
}

TEST_CASE(
    "Executor: waiting for a map that is not done times out with TimeoutError "
    "(test_concurrent_futures.ExecutorTest.test_map_timeout)") {
  troupe::System system({.workers = 2});
  Gate gate;
  std::vector<int> items{1, 2, 3};
  auto results = system.map(
      [&gate](int i) {
        if (i == 3) gate.pass();
        return i;
      },
      items);
  REQUIRE(eventually([&] { return gate.entered.load() == 1; }));
  auto start = SteadyClock::now();
  REQUIRE_THROWS_AS(results.get(50ms), troupe::TimeoutError);
  REQUIRE(SteadyClock::now() - start >= 50ms);
  gate.open = true;
  REQUIRE(results.get(kPatience) == std::vector<int>{1, 2, 3});
}

// == ShutdownTest =================================================================================

TEST_CASE(
    "Executor: submit and map after shutdown fail with ShutdownError, where Python raises "
    "RuntimeError (test_concurrent_futures.ShutdownTest.test_run_after_shutdown)") {
  troupe::System system({.workers = 2});
  REQUIRE(system.shutdown(5s));
  troupe::Future<int> late;
  REQUIRE_NOTHROW(late = system.submit(mul, 2, 5));  // never throws: a race, not a misuse
  REQUIRE(late.ready());                             // failed at once, not queued
  REQUIRE(outcome(late) == "ShutdownError");
  REQUIRE_THROWS_WITH(late.get(kPatience), Catch::Contains("shut"));
  std::vector<int> items{1, 2};
  REQUIRE(outcome(system.map([](int i) { return i; }, items)) == "ShutdownError");
}

TEST_CASE(
    "Executor: shutdown (drain) waits for the functions already submitted "
    "(test_concurrent_futures.ShutdownTest.test_hang_issue12364)") {
  troupe::System system({.workers = 2});
  std::vector<troupe::Future<int>> fs;
  for (int i = 0; i < 50; ++i) {
    fs.push_back(system.submit([i] {
      std::this_thread::sleep_for(100us);
      return i;
    }));
  }
  REQUIRE(system.shutdown(kPatience));
  for (int i = 0; i < 50; ++i) REQUIRE(fs[static_cast<std::size_t>(i)].get(0s) == i);
}

TEST_CASE(
    "Executor: shutdown in drop mode cancels the functions not yet started; every "
    "future resolves (test_concurrent_futures.ShutdownTest.test_cancel_futures)") {
  troupe::System system({.workers = 2});
  Gate gate;
  auto busy1 = system.submit([&gate] { gate.pass(); });
  auto busy2 = system.submit([&gate] { gate.pass(); });
  REQUIRE(eventually([&] { return gate.entered.load() == 2; }));
  std::atomic<int> ran{0};
  std::vector<troupe::Future<void>> queued;
  for (int i = 0; i < 20; ++i) queued.push_back(system.submit([&ran] { ran.fetch_add(1); }));
  std::thread opener([&] {
    // Opens the gate once shutdown has begun (submit then fails at once).
    for (;;) {
      auto probe = system.submit([] {});
      if (probe.ready() && probe.failed()) break;
      std::this_thread::sleep_for(1ms);
    }
    gate.open = true;
  });
  REQUIRE(system.shutdown(kPatience, troupe::StopMode::drop));
  opener.join();
  REQUIRE(outcome(busy1) == "value");  // already running: finished
  REQUIRE(outcome(busy2) == "value");
  for (auto& f : queued) REQUIRE(outcome(f) != "not ready");
  int cancelled = 0;
  for (auto& f : queued) cancelled += f.failed() ? 1 : 0;
  REQUIRE(cancelled + ran.load() == 20);
  REQUIRE(cancelled == 20);  // none had started: drop cancels them all
}

// == WaitTests ====================================================================================

TEST_CASE(
    "wait FIRST_COMPLETED: when_any gives the future that completed, the other stays "
    "pending (test_concurrent_futures.WaitTests.test_first_completed)") {
  troupe::System system({.workers = 2});
  troupe::Promise<int> never;
  std::vector<troupe::Future<int>> fs{system.submit(mul, 21, 2), never.future()};
  REQUIRE(troupe::when_any(fs).get(kPatience) == 0);
  REQUIRE(fs[0].get(kPatience) == 42);
  REQUIRE_FALSE(fs[1].ready());
}

TEST_CASE(
    "wait FIRST_COMPLETED: a future already complete answers at once "
    "(test_concurrent_futures.WaitTests.test_first_completed_some_already_completed)") {
  troupe::Promise<int> never;
  std::vector<troupe::Future<int>> fs{never.future(), successful_future()};
  auto first = troupe::when_any(fs);
  REQUIRE(first.ready());
  REQUIRE(first.get(0s) == 1);
}

TEST_CASE(
    "wait FIRST_COMPLETED from an actor: co_await when_any resumes on the first "
    "completion (test_concurrent_futures.WaitTests.test_first_completed, from actors)") {
  troupe::System system({.workers = 1});
  troupe::Promise<int> never;
  troupe::Promise<int> later;
  auto actor = system.spawn([&](int) -> troupe::Task<std::size_t> {
    std::vector<troupe::Future<int>> fs{never.future(), later.future()};
    std::size_t first = co_await troupe::when_any(fs);
    co_return first;
  });
  auto answer = actor.ask(0);
  REQUIRE_FALSE(answer.wait_for(20ms));
  later.set_value(7);
  REQUIRE(answer.get(kPatience) == 1);
}

TEST_CASE(
    "wait FIRST_EXCEPTION: when_all fails with the first error while others are still "
    "pending (test_concurrent_futures.WaitTests.test_first_exception)") {
  troupe::System system({.workers = 2});
  troupe::Promise<int> never;
  std::vector<troupe::Future<int>> fs{system.submit(mul, 2, 21), system.submit([]() -> int {
                                        throw std::out_of_range("raised in the pool");
                                      }),
                                      never.future()};
  auto all = troupe::when_all(fs);
  REQUIRE_THROWS_AS(all.get(kPatience), std::out_of_range);
  REQUIRE_FALSE(fs[2].ready());
}

TEST_CASE(
    "wait FIRST_EXCEPTION: an input that already failed fails when_all at once "
    "(test_concurrent_futures.WaitTests.test_first_exception_some_already_complete)") {
  troupe::Promise<int> never;
  auto all = troupe::when_all(
      std::vector<troupe::Future<int>>{successful_future(), exception_future(), never.future()});
  REQUIRE(all.ready());
  REQUIRE_THROWS_WITH(all.get(0s), "boom");
}

TEST_CASE(
    "wait ALL_COMPLETED: every future completes, errors included "
    "(test_concurrent_futures.WaitTests.test_all_completed)") {
  troupe::System system({.workers = 2});
  std::vector<troupe::Future<int>> fs{successful_future(), exception_future(),
                                      system.submit(mul, 2, 21), system.submit(mul, 7, 6)};
  all_settled(fs).get(kPatience);
  for (auto& f : fs) REQUIRE(f.ready());
  REQUIRE(fs[1].failed());
  REQUIRE(fs[2].get(0s) == 42);
  REQUIRE(fs[3].get(0s) == 42);
}

TEST_CASE(
    "wait ALL_COMPLETED from an actor: awaiting every future, errors included "
    "(test_concurrent_futures.WaitTests.test_all_completed, from actors)") {
  troupe::System system({.workers = 1});
  auto actor = system.spawn([&system](int) -> troupe::Task<std::string> {
    std::vector<troupe::Future<int>> fs{successful_future(), exception_future(),
                                        system.submit(mul, 2, 21)};
    co_await all_settled(fs);
    std::string seen;
    for (auto& f : fs) {
      try {
        int v = co_await f;
        seen += std::to_string(v) + " ";
      } catch (const std::runtime_error& e) {
        seen += std::string(e.what()) + " ";
      }
    }
    co_return seen;
  });
  REQUIRE(actor.ask(0).get(kPatience) == "42 boom 42 ");
}

TEST_CASE(
    "wait with a timeout: what completed is done, the rest is not, after at least the "
    "timeout (test_concurrent_futures.WaitTests.test_timeout)") {
  troupe::System system({.workers = 2});
  troupe::Promise<int> slow;
  std::vector<troupe::Future<int>> fs{successful_future(), exception_future(),
                                      system.submit(mul, 6, 7), slow.future()};
  auto start = SteadyClock::now();
  REQUIRE_FALSE(all_settled(fs).wait_for(50ms));
  REQUIRE(SteadyClock::now() - start >= 50ms);
  REQUIRE(fs[0].ready());
  REQUIRE(fs[1].ready());
  REQUIRE(outcome(fs[2]) == "value");
  REQUIRE_FALSE(fs[3].ready());
  slow.set_value(1);
  REQUIRE(all_settled(fs).wait_for(kPatience));
}

// == AsCompletedTests =============================================================================

TEST_CASE(
    "as_completed: every future is yielded once, in the order they complete "
    "(test_concurrent_futures.AsCompletedTests.test_no_timeout)") {
  troupe::System system({.workers = 2});
  troupe::Promise<int> third;
  std::vector<troupe::Future<int>> fs{successful_future(), exception_future(),
                                      system.submit(mul, 2, 21), third.future()};
  std::vector<std::size_t> yielded;
  std::thread completer([&] {
    fs[2].wait_for(kPatience);
    third.set_value(3);
  });
  as_completed(fs, kPatience, yielded);
  completer.join();
  REQUIRE(std::set<std::size_t>(yielded.begin(), yielded.end()) ==
          std::set<std::size_t>{0, 1, 2, 3});
  REQUIRE(yielded.size() == 4);
}

TEST_CASE(
    "as_completed: a future still pending at the timeout raises TimeoutError after the "
    "done ones (test_concurrent_futures.AsCompletedTests.test_future_times_out)") {
  troupe::Promise<int> pending;
  std::vector<troupe::Future<int>> fs{successful_future(), exception_future(), pending.future()};
  std::vector<std::size_t> yielded;
  REQUIRE_THROWS_AS(as_completed(fs, 0ms, yielded), troupe::TimeoutError);
  REQUIRE(std::set<std::size_t>(yielded.begin(), yielded.end()) == std::set<std::size_t>{0, 1});
}

TEST_CASE(
    "as_completed: a future given twice is yielded once; when_any of it answers the "
    "first index (test_concurrent_futures.AsCompletedTests.test_duplicate_futures)") {
  troupe::System system({.workers = 2});
  auto f = system.submit(mul, 2, 3);
  std::vector<troupe::Future<int>> twice{f, f};
  std::vector<std::size_t> yielded;
  as_completed(twice, kPatience, yielded);
  REQUIRE(yielded == std::vector<std::size_t>{0});
  troupe::Promise<int> p;
  std::vector<troupe::Future<int>> pending_twice{p.future(), p.future()};
  auto first = troupe::when_any(pending_twice);
  p.set_value(1);
  REQUIRE(first.get(kPatience) == 0);
}

TEST_CASE(
    "as_completed from an actor: co_await when_any over what is left, until nothing is "
    "(test_concurrent_futures.AsCompletedTests.test_no_timeout, from actors)") {
  troupe::System system({.workers = 1});
  std::vector<troupe::Promise<int>> promises(4);
  std::vector<troupe::Future<int>> fs;
  for (auto& p : promises) fs.push_back(p.future());
  auto yielded = std::make_shared<std::atomic<int>>(0);
  auto actor = system.spawn([fs, yielded](int) -> troupe::Task<std::vector<int>> {
    std::vector<troupe::Future<int>> left = fs;
    std::vector<int> values;
    while (!left.empty()) {
      std::size_t first = co_await troupe::when_any(left);
      values.push_back(left[first].get(0s));
      left.erase(left.begin() + static_cast<std::ptrdiff_t>(first));
      yielded->fetch_add(1);
    }
    co_return values;
  });
  auto answer = actor.ask(0);
  int n = 0;
  for (int i : {2, 0, 3, 1}) {  // one at a time: each is yielded before the next completes
    promises[static_cast<std::size_t>(i)].set_value(i * 10);
    ++n;
    REQUIRE(eventually([&] { return yielded->load() == n; }));
  }
  REQUIRE(answer.get(kPatience) == std::vector<int>{20, 0, 30, 10});
}

// == FutureTests ==================================================================================

TEST_CASE(
    "Future: a done callback sees the value "
    "(test_concurrent_futures.FutureTests.test_done_callback_with_result)") {
  troupe::Promise<int> p;
  int seen = 0;
  p.future().on_ready([&](const troupe::Future<int>& f) { seen = f.get(); });
  p.set_value(5);
  REQUIRE(seen == 5);
}

TEST_CASE(
    "Future: a done callback sees the error "
    "(test_concurrent_futures.FutureTests.test_done_callback_with_exception)") {
  troupe::Promise<int> p;
  std::string seen;
  p.future().on_ready([&](const troupe::Future<int>& f) { seen = troupe::describe(f.error()); });
  p.set_exception(std::make_exception_ptr(std::runtime_error("test")));
  REQUIRE_THAT(seen, Catch::Contains("test"));
}

TEST_CASE(
    "Future: a raising done callback neither stops the callbacks after it nor reaches "
    "the completer (test_concurrent_futures.FutureTests.test_done_callback_raises)") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  bool raising_was_called = false;
  bool fn_was_called = false;
  f.on_ready([&](const troupe::Future<int>&) {
    raising_was_called = true;
    throw std::runtime_error("doh!");
  });
  f.on_ready([&](const troupe::Future<int>&) { fn_was_called = true; });
  auto chained = f.then([](int v) { return v + 1; });
  bool set = false;
  REQUIRE_NOTHROW(set = p.set_value(5));
  REQUIRE(set);
  REQUIRE(raising_was_called);
  REQUIRE(fn_was_called);
  REQUIRE(chained.get(kPatience) == 6);
  REQUIRE(f.get(0s) == 5);
}

TEST_CASE(
    "Future: a raising done callback on an ask's future does not fail the actor that "
    "answers (test_concurrent_futures.FutureTests.test_done_callback_raises, on an ask)") {
  troupe::System system({.workers = 2});
  // The handler waits for a gate the test opens only after the callback is registered, so
  // the callback runs on the answering actor's thread, when it completes the ask.
  auto gate = std::make_shared<troupe::Promise<void>>();
  auto answerer = system.spawn([&gate](int x) -> troupe::Task<int> {
    troupe::Future<void> open = gate->future();
    co_await open;
    co_return x * 2;
  });
  for (int i = 0; i < 5; ++i) {
    gate = std::make_shared<troupe::Promise<void>>();
    auto answer = answerer.ask(i);
    std::atomic<bool> later_callback_ran{false};
    answer.on_ready([](const troupe::Future<int>&) { throw std::runtime_error("doh!"); });
    answer.on_ready([&](const troupe::Future<int>&) { later_callback_ran = true; });
    REQUIRE_FALSE(answer.ready());
    gate->set_value();
    REQUIRE(outcome(answer) == "value");
    REQUIRE(answer.get(0s) == 2 * i);
    // Callbacks run after the waiters are woken: wait for it.
    REQUIRE(eventually([&] { return later_callback_ran.load(); }));
    REQUIRE(answerer.alive());
  }
  REQUIRE(answerer.ask(21).get(kPatience) == 42);
  auto rows = system.actors();
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].failures == 0);
  gate->set_value();
}

TEST_CASE(
    "Future: a raising done callback added to a done future does not raise into the "
    "caller (test_concurrent_futures.FutureTests."
    "test_done_callback_raises_already_succeeded)") {
  auto f = successful_future();
  bool called = false;
  REQUIRE_NOTHROW(f.on_ready([&](const troupe::Future<int>&) {
    called = true;
    throw std::runtime_error("doh!");
  }));
  REQUIRE(called);
}

TEST_CASE(
    "Future: a done callback added to a done future runs at once, on this thread "
    "(test_concurrent_futures.FutureTests.test_done_callback_already_successful, "
    "test_done_callback_already_failed)") {
  auto here = std::this_thread::get_id();
  std::thread::id ran_on;
  int value = 0;
  successful_future().on_ready([&](const troupe::Future<int>& f) {
    ran_on = std::this_thread::get_id();
    value = f.get();
  });
  REQUIRE(ran_on == here);
  REQUIRE(value == 42);
  bool saw_error = false;
  exception_future().on_ready([&](const troupe::Future<int>& f) { saw_error = f.failed(); });
  REQUIRE(saw_error);
}

TEST_CASE(
    "Future: a done callback registered inside an actor runs once the future completes "
    "(test_concurrent_futures.FutureTests.test_done_callback_with_result, from actors)") {
  troupe::System system({.workers = 2});
  troupe::Promise<int> p;
  std::atomic<int> seen{0};
  auto actor = system.spawn([&](int) {
    p.future().then([&](int v) { seen = v; });
    return 1;
  });
  REQUIRE(actor.ask(0).get(kPatience) == 1);
  REQUIRE(seen.load() == 0);
  p.set_value(9);
  REQUIRE(seen.load() == 9);
}

TEST_CASE(
    "Future: get with a timeout on a pending future raises TimeoutError; a done one "
    "answers even with a zero timeout "
    "(test_concurrent_futures.FutureTests.test_result_with_timeout)") {
  troupe::Promise<int> p;
  auto f = p.future();
  REQUIRE_THROWS_AS(f.get(0s), troupe::TimeoutError);
  REQUIRE_THROWS_AS(f.get(-1s), troupe::TimeoutError);  // negative: expired, as in std::
  REQUIRE_FALSE(f.wait_for(-1s));
  p.set_value(3);
  REQUIRE(f.get(0s) == 3);
  REQUIRE(f.get(-1s) == 3);
  REQUIRE(f.wait_for(-1s));
}

TEST_CASE(
    "Future: a value set on another thread reaches the thread waiting in get "
    "(test_concurrent_futures.FutureTests.test_result_with_success, "
    "test_exception_with_success)") {
  troupe::Promise<int> p;
  troupe::Promise<int> q;
  std::thread setter([&] {
    std::this_thread::sleep_for(10ms);
    p.set_value(42);
    q.set_exception(std::make_exception_ptr(std::runtime_error("late")));
  });
  REQUIRE(p.future().get(kPatience) == 42);
  REQUIRE_THROWS_WITH(q.future().get(kPatience), "late");
  setter.join();
}

TEST_CASE(
    "Future: the largest timeouts wait for the result instead of overflowing into an "
    "immediate TimeoutError (lock_tests.BaseLockTests.test_timeout, TIMEOUT_MAX is ok)") {
  troupe::Promise<int> p;
  auto f = p.future();
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    p.set_value(1);
  });
  bool ready = f.wait_for(std::chrono::nanoseconds::max());
  setter.join();
  REQUIRE(ready);
  REQUIRE(f.get(std::chrono::hours::max()) == 1);
  REQUIRE(f.get(std::chrono::milliseconds::max()) == 1);
  troupe::Promise<int> pending;
  std::thread late([&] {
    std::this_thread::sleep_for(20ms);
    pending.set_value(2);
  });
  int got = 0;
  CHECK_NOTHROW(got = pending.future().get(std::chrono::seconds::max()));
  late.join();
  REQUIRE(got == 2);
}

TEST_CASE(
    "Future: a second set_value or set_exception returns false and changes nothing, where "
    "Python raises InvalidStateError (test_concurrent_futures.FutureTests."
    "test_multiple_set_result, test_multiple_set_exception)") {
  troupe::Promise<int> p;
  REQUIRE(p.set_value(1));
  REQUIRE_FALSE(p.set_value(2));
  REQUIRE_FALSE(p.set_exception(std::make_exception_ptr(std::runtime_error("late"))));
  REQUIRE(p.future().get(0s) == 1);
  troupe::Promise<int> e;
  REQUIRE(e.set_exception(std::make_exception_ptr(std::runtime_error("first"))));
  REQUIRE_FALSE(e.set_exception(std::make_exception_ptr(std::runtime_error("second"))));
  REQUIRE_FALSE(e.set_value(1));
  REQUIRE_THROWS_WITH(e.future().get(0s), "first");
}
