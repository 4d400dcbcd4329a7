// Conformance: CPython's Lib/test/test_queue.py (BaseQueueTestMixin, SimpleQueueTest's
// order and many-threads cases) ported to troupe::WorkQueue in its three orders.
//
// Python's Full becomes QueueFull when a put is refused without waiting, and TimeoutError
// when a put waited for room in vain; Python's Empty becomes TimeoutError (README, "Where
// troupe differs from Python"). Python's _TriggerThread sleeps 0.1 s before it unblocks
// the blocked call; here the test first makes sure the call is parked (a size() ask sent
// after it is answered after it, and the call's future is still not ready), so nothing
// depends on timing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
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

constexpr std::size_t QUEUE_SIZE = 5;

using Queue = troupe::WorkQueue<int>;

const char* order_name(troupe::QueueOrder order) {
  switch (order) {
    case troupe::QueueOrder::fifo:
      return "Queue";
    case troupe::QueueOrder::lifo:
      return "LifoQueue";
    case troupe::QueueOrder::priority:
      return "PriorityQueue";
  }
  return "?";
}

/// What test_basic expects back from putting 111, 333, 222.
std::vector<int> target_order(troupe::QueueOrder order) {
  switch (order) {
    case troupe::QueueOrder::fifo:
      return {111, 333, 222};
    case troupe::QueueOrder::lifo:
      return {222, 333, 111};
    case troupe::QueueOrder::priority:
      return {111, 222, 333};
  }
  return {};
}

/// BaseQueueTestMixin.basic_queue_test, from a plain thread.
void basic_queue_test(const Queue& q, troupe::QueueOrder order) {
  REQUIRE(q.size().get(kPatience) == 0);
  q.put(111).get(kPatience);
  q.put(333).get(kPatience);
  q.put(222).get(kPatience);
  std::vector<int> actual{q.get().get(kPatience), q.get().get(kPatience), q.get().get(kPatience)};
  REQUIRE(actual == target_order(order));
  for (std::size_t i = 0; i < QUEUE_SIZE - 1; ++i) {
    q.put(static_cast<int>(i)).get(kPatience);
    REQUIRE(q.size().get(kPatience) > 0);
  }
  REQUIRE(q.size().get(kPatience) < QUEUE_SIZE);  // not full
  constexpr int last = 2 * QUEUE_SIZE;
  constexpr int full = 3 * 2 * QUEUE_SIZE;
  q.put(last).get(kPatience);
  REQUIRE(q.size().get(kPatience) == QUEUE_SIZE);         // full
  REQUIRE(outcome(q.put(full, 0s)) == "QueueFull");       // Python: put(block=0) raises Full
  REQUIRE(outcome(q.put(full, 10ms)) == "TimeoutError");  // Python: put(timeout=0.01) raises Full
  // A blocking put, without and with a timeout: parked until another thread gets an item.
  for (auto timeout : {troupe::Clock::duration::max(), troupe::Clock::duration(10s)}) {
    auto put = q.put(full, timeout);
    REQUIRE(q.size().get(kPatience) == QUEUE_SIZE);  // answered after the put was handled
    REQUIRE_FALSE(put.ready());                      // so the put is parked
    std::thread trigger([&] { q.get(0s).get(kPatience); });
    trigger.join();
    REQUIRE(outcome(put) == "value");
  }
  for (std::size_t i = 0; i < QUEUE_SIZE; ++i) q.get().get(kPatience);  // empty it
  REQUIRE(q.size().get(kPatience) == 0);
  REQUIRE(outcome(q.get(0s)) == "TimeoutError");    // Python: get(block=0) raises Empty
  REQUIRE(outcome(q.get(10ms)) == "TimeoutError");  // Python: get(timeout=0.01) raises Empty
  REQUIRE_THROWS_WITH(q.get(0s).get(kPatience), Catch::Contains("empty"));
  // A blocking get, without and with a timeout: parked until another thread puts.
  for (auto timeout : {troupe::Clock::duration::max(), troupe::Clock::duration(10s)}) {
    auto got = q.get(timeout);
    REQUIRE(q.size().get(kPatience) == 0);
    REQUIRE_FALSE(got.ready());
    std::thread trigger([&] { q.put(-1).get(kPatience); });
    trigger.join();
    REQUIRE(got.get(kPatience) == -1);
  }
}

/// basic_queue_test run by an actor: every call is co_awaited. The blocked put and get are
/// released by the test's thread, which raises `triggered` just before it acts; a call that
/// returns before that did not block (Python's startedEvent check).
struct Basic {};
class BasicTester : public troupe::Actor {
 public:
  BasicTester(Queue q, std::atomic<bool>* triggered, std::atomic<int>* stage)
      : q_(std::move(q)), triggered_(triggered), stage_(stage) {}

  troupe::Task<std::vector<std::string>> on(Basic) {
    std::vector<std::string> log;
    co_await q_.put(111);
    co_await q_.put(333);
    co_await q_.put(222);
    for (int i = 0; i < 3; ++i) {
      int v = co_await q_.get();
      log.push_back(std::to_string(v));
    }
    for (std::size_t i = 0; i < QUEUE_SIZE; ++i) co_await q_.put(static_cast<int>(i));
    log.push_back(co_await refused(q_.put(99, 0s)));
    log.push_back(co_await refused(q_.put(99, 10ms)));
    *triggered_ = false;
    *stage_ = 1;  // about to block in put
    co_await q_.put(99);
    log.push_back(triggered_->load() ? "put blocked" : "put did not block");
    for (std::size_t i = 0; i < QUEUE_SIZE; ++i) co_await q_.get();
    try {
      co_await q_.get(0s);
      log.push_back("got from an empty queue");
    } catch (const troupe::TimeoutError&) {
      log.push_back("empty");
    }
    *triggered_ = false;
    *stage_ = 2;  // about to block in get
    int v = co_await q_.get();
    log.push_back(triggered_->load() ? "get blocked " + std::to_string(v) : "get did not block");
    co_return log;
  }

 private:
  troupe::Task<std::string> refused(troupe::Future<void> put) {
    try {
      co_await put;
      co_return "put into a full queue";
    } catch (const troupe::QueueFull&) {
      co_return "QueueFull";
    } catch (const troupe::TimeoutError&) {
      co_return "TimeoutError";
    }
  }

  Queue q_;
  std::atomic<bool>* triggered_;
  std::atomic<int>* stage_;
};

/// BaseQueueTestMixin.worker: sums items until it gets a negative one, task_done for each.
struct Work {};
class Summer : public troupe::Actor {
 public:
  Summer(Queue q, std::atomic<long>* cum) : q_(std::move(q)), cum_(cum) {}
  troupe::Task<void> on(Work) {
    for (;;) {
      int x = co_await q_.get();
      if (x < 0) {
        q_.task_done();
        co_return;
      }
      cum_->fetch_add(x);
      q_.task_done();
    }
  }

 private:
  Queue q_;
  std::atomic<long>* cum_;
};

}  // namespace

TEST_CASE(
    "WorkQueue: items come out in fifo, lifo or priority order; a full queue refuses or "
    "times out a put, an empty one a get; blocked calls wait for another thread "
    "(test_queue.BaseQueueTestMixin.test_basic)") {
  troupe::System system({.workers = 2});
  auto order =
      GENERATE(troupe::QueueOrder::fifo, troupe::QueueOrder::lifo, troupe::QueueOrder::priority);
  INFO(order_name(order));
  Queue q(system, {.order = order, .capacity = QUEUE_SIZE});
  basic_queue_test(q, order);
  basic_queue_test(q, order);  // twice on the same queue
}

TEST_CASE(
    "WorkQueue: an actor co_awaiting put and get sees the same orders, refusals and "
    "blocking (test_queue.BaseQueueTestMixin.test_basic, from actors)") {
  troupe::System system({.workers = 2});
  auto order =
      GENERATE(troupe::QueueOrder::fifo, troupe::QueueOrder::lifo, troupe::QueueOrder::priority);
  INFO(order_name(order));
  Queue q(system, {.order = order, .capacity = QUEUE_SIZE});
  std::atomic<bool> triggered{false};
  std::atomic<int> stage{0};
  auto tester = system.spawn<BasicTester>({}, q, &triggered, &stage);
  for (int round = 0; round < 2; ++round) {
    stage = 0;
    auto log = tester.ask(Basic{});
    REQUIRE(eventually([&] { return stage.load() == 1 && q.size().get(kPatience) == QUEUE_SIZE; }));
    triggered = true;
    q.get().get(kPatience);
    REQUIRE(eventually([&] { return stage.load() == 2; }));
    triggered = true;
    q.put(-1).get(kPatience);
    std::vector<std::string> expected;
    for (int v : target_order(order)) expected.push_back(std::to_string(v));
    expected.insert(expected.end(),
                    {"QueueFull", "TimeoutError", "put blocked", "empty", "get blocked -1"});
    REQUIRE(log.get(kPatience) == expected);
  }
}

TEST_CASE(
    "WorkQueue: task_done without an item put fails with UsageError "
    "(test_queue.BaseQueueTestMixin.test_queue_task_done)") {
  troupe::System system({.workers = 2});
  Queue q(system);
  REQUIRE(outcome(q.task_done()) == "UsageError");  // Python raises ValueError
  REQUIRE_THROWS_WITH(q.task_done().get(kPatience), Catch::Contains("more times than"));
}

TEST_CASE(
    "WorkQueue: join returns once every item is task_done by worker threads, twice in a "
    "row (test_queue.BaseQueueTestMixin.test_queue_join)") {
  troupe::System system({.workers = 2});
  auto order =
      GENERATE(troupe::QueueOrder::fifo, troupe::QueueOrder::lifo, troupe::QueueOrder::priority);
  INFO(order_name(order));
  Queue q(system, {.order = order});
  auto queue_join_test = [&] {
    std::atomic<long> cum{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&] {
        for (;;) {
          int x = q.get().get(kPatience);
          if (x >= 0) cum.fetch_add(x);
          q.task_done().get(kPatience);
          if (x < 0) return;
        }
      });
    }
    for (int i = 0; i < 100; ++i) q.put(i);
    q.join().get(kPatience);
    REQUIRE(cum.load() == 4950);  // join did not return before every task was done
    for (int i = 0; i < 2; ++i) q.put(-1);
    q.join().get(kPatience);  // join twice
    for (auto& t : threads) t.join();
  };
  queue_join_test();
  queue_join_test();
  REQUIRE(outcome(q.task_done()) == "UsageError");  // the count cannot go negative
}

TEST_CASE(
    "WorkQueue: join returns once every item is task_done by consumer actors "
    "(test_queue.BaseQueueTestMixin.test_queue_join, from actors)") {
  troupe::System system({.workers = 2});
  Queue q(system);
  for (int round = 0; round < 2; ++round) {
    std::atomic<long> cum{0};
    auto a = system.spawn<Summer>({}, q, &cum);
    auto b = system.spawn<Summer>({}, q, &cum);
    auto done_a = a.ask(Work{});
    auto done_b = b.ask(Work{});
    for (int i = 0; i < 100; ++i) q.put(i);
    q.join().get(kPatience);
    REQUIRE(cum.load() == 4950);
    q.put(-1);
    q.put(-1);
    q.join().get(kPatience);
    REQUIRE(outcome(done_a) == "value");
    REQUIRE(outcome(done_b) == "value");
  }
  REQUIRE(outcome(q.task_done()) == "UsageError");
}

TEST_CASE(
    "WorkQueue: an actor may join the queue with co_await while others finish the tasks "
    "(test_queue.BaseQueueTestMixin.test_queue_join, joined from an actor)") {
  troupe::System system({.workers = 1});
  Queue q(system);
  std::atomic<long> cum{0};
  auto summer = system.spawn<Summer>({}, q, &cum);
  auto joiner = system.spawn([q](int n) -> troupe::Task<int> {
    for (int i = 1; i <= n; ++i) co_await q.put(i);
    co_await q.join();
    co_return n;
  });
  summer.tell(Work{});
  REQUIRE(joiner.ask(50).get(kPatience) == 50);
  REQUIRE(cum.load() == 50 * 51 / 2);
  q.put(-1);
}

TEST_CASE(
    "WorkQueue: a negative timeout polls as a zero one does, where Python raises "
    "ValueError (test_queue.BaseQueueTestMixin.test_negative_timeout_raises_exception)") {
  troupe::System system({.workers = 2});
  Queue q(system, {.capacity = 1});
  REQUIRE(outcome(q.put(1, -1s)) == "value");      // room: put at once
  REQUIRE(outcome(q.put(2, -1s)) == "QueueFull");  // full: refused at once
  REQUIRE(q.get(-1s).get(kPatience) == 1);         // an item: got at once
  REQUIRE(outcome(q.get(-1s)) == "TimeoutError");  // empty: refused at once
  REQUIRE(outcome(q.get(troupe::Clock::duration::min())) == "TimeoutError");
  REQUIRE(q.size().get(kPatience) == 0);
}

TEST_CASE(
    "WorkQueue: put and get with a zero timeout never wait "
    "(test_queue.BaseQueueTestMixin.test_nowait)") {
  troupe::System system({.workers = 2});
  Queue q(system, {.capacity = QUEUE_SIZE});
  for (std::size_t i = 0; i < QUEUE_SIZE; ++i) REQUIRE(outcome(q.put(1, 0s)) == "value");
  REQUIRE(outcome(q.put(1, 0s)) == "QueueFull");  // Python: put_nowait raises Full
  for (std::size_t i = 0; i < QUEUE_SIZE; ++i) REQUIRE(q.get(0s).get(kPatience) == 1);
  REQUIRE(outcome(q.get(0s)) == "TimeoutError");  // Python: get_nowait raises Empty
}

TEST_CASE(
    "WorkQueue: a put that waited in vain for room fails with TimeoutError after at least "
    "its timeout (test_queue.BaseQueueTestMixin.test_basic, put(timeout=0.01))") {
  troupe::System system({.workers = 2});
  Queue q(system, {.capacity = 1});
  q.put(0).get(kPatience);
  auto start = std::chrono::steady_clock::now();
  auto put = q.put(1, 50ms);
  REQUIRE(outcome(put) == "TimeoutError");
  REQUIRE(std::chrono::steady_clock::now() - start >= 50ms);
  REQUIRE_THROWS_WITH(put.get(kPatience), Catch::Contains("full"));
  auto get_start = std::chrono::steady_clock::now();
  REQUIRE(q.get(0s).get(kPatience) == 0);
  REQUIRE(outcome(q.get(50ms)) == "TimeoutError");
  REQUIRE(std::chrono::steady_clock::now() - get_start >= 50ms);
}

TEST_CASE(
    "WorkQueue: one producer and one consumer keep the order "
    "(test_queue.BaseSimpleQueueTest.test_order)") {
  troupe::System system({.workers = 2});
  Queue q(system);
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::vector<int> results;
  std::thread consumer([&] {
    for (std::size_t i = 0; i < inputs.size(); ++i) results.push_back(q.get().get(kPatience));
  });
  std::thread producer([&] {
    for (int v : inputs) q.put(v);
  });
  producer.join();
  consumer.join();
  REQUIRE(results == inputs);
}

TEST_CASE(
    "WorkQueue: many producer threads and consumer actors pass every item exactly once "
    "(test_queue.BaseSimpleQueueTest.test_many_threads)") {
  troupe::System system({.workers = 2});
  Queue q(system, {.capacity = 10});
  constexpr int N = 8;
  constexpr int kItems = 1000;
  std::mutex mutex;
  std::vector<int> results;
  std::vector<troupe::Future<void>> consumed;
  for (int c = 0; c < N; ++c) {
    auto consumer = system.spawn([q, &mutex, &results](int count) -> troupe::Task<void> {
      for (int i = 0; i < count; ++i) {
        int v = co_await q.get();
        std::lock_guard lock(mutex);
        results.push_back(v);
      }
    });
    consumed.push_back(consumer.ask(kItems / N));
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < N; ++p) {
    producers.emplace_back([&, p] {
      for (int i = p; i < kItems; i += N) q.put(i).get(kPatience);  // waits while full
    });
  }
  for (auto& t : producers) t.join();
  for (auto& c : consumed) REQUIRE(outcome(c) == "value");
  std::sort(results.begin(), results.end());
  std::vector<int> inputs(kItems);
  std::iota(inputs.begin(), inputs.end(), 0);
  REQUIRE(results == inputs);
}

TEST_CASE(
    "WorkQueue: after the system shuts down, put and get fail with Cancelled "
    "(test_queue.BaseQueueTestMixin.test_shutdown_empty)") {
  troupe::System system({.workers = 2});
  Queue q(system);
  auto pending = q.get();
  REQUIRE(q.size().get(kPatience) == 0);
  REQUIRE(system.shutdown(5s));
  REQUIRE(outcome(pending) == "Cancelled");
  REQUIRE(outcome(q.put(1)) == "Cancelled");  // Python raises ShutDown
  REQUIRE(outcome(q.get()) == "Cancelled");
}

TEST_CASE(
    "WorkQueue: a timeout too long for nanoseconds means no timeout, not an immediate one "
    "(lock_tests.BaseLockTests.test_timeout: TIMEOUT_MAX is ok)") {
  support::ClockedSystem s;
  Queue q(s.system, {.capacity = 1});
  auto got = q.get(std::chrono::hours::max());
  REQUIRE(q.size().get(kPatience) == 0);
  s.clock->advance(24h * 365 * 50);
  REQUIRE(q.size().get(kPatience) == 0);
  REQUIRE_FALSE(got.ready());
  q.put(1, std::chrono::milliseconds::max()).get(kPatience);
  REQUIRE(got.get(kPatience) == 1);
  q.put(2).get(kPatience);
  auto put = q.put(3, std::chrono::seconds::max());
  REQUIRE(q.size().get(kPatience) == 1);
  s.clock->advance(24h * 365 * 50);
  REQUIRE(q.size().get(kPatience) == 1);
  REQUIRE_FALSE(put.ready());
  REQUIRE(q.get(0s).get(kPatience) == 2);
  REQUIRE(outcome(put) == "value");
}
