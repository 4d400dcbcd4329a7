// Tests of troupe::WorkQueue (actors/src/work_queue.cpp, troupe/detail/work_queue_actor.hpp):
// the three orders, waiting and rejecting puts, get timeouts on a manual clock, task_done
// and join with Python's meaning, shutdown, and 8 producers x 8 consumers on real threads.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"

#include <troupe/troupe.hpp>
#include <troupe/usage_error.hpp>
#include <troupe/work_queue.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::outcome;
using support::kPatience;

namespace {

struct Fixture : support::ClockedSystem {

  template <class Q>
  static std::vector<int> drain(const Q& q, int n) {
    std::vector<int> out;
    for (int i = 0; i < n; ++i) out.push_back(q.get(0s).get(kPatience));
    return out;
  }
};

struct NotComparable {
  int n;
};

}  // namespace

// -- orders --------------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "a fifo queue hands items out in the order they were put") {
  troupe::WorkQueue<int> q(system);
  for (int i : {3, 1, 2}) q.put(i);
  REQUIRE(q.size().get(kPatience) == 3);
  REQUIRE(drain(q, 3) == std::vector<int>{3, 1, 2});
}

TEST_CASE_METHOD(Fixture, "a lifo queue hands out the newest item first") {
  troupe::WorkQueue<int> q(system, {.order = troupe::QueueOrder::lifo});
  for (int i : {3, 1, 2}) q.put(i);
  REQUIRE(drain(q, 3) == std::vector<int>{2, 1, 3});
}

TEST_CASE_METHOD(Fixture, "a priority queue hands out the smallest first, ties in put order") {
  struct ByFirst {
    bool operator()(const std::pair<int, char>& a, const std::pair<int, char>& b) const {
      return a.first < b.first;
    }
  };
  troupe::WorkQueue<std::pair<int, char>, ByFirst> q(system,
                                                     {.order = troupe::QueueOrder::priority});
  for (auto item : {std::pair{5, 'a'}, {1, 'b'}, {5, 'c'}, {1, 'd'}, {3, 'e'}, {5, 'f'}})
    q.put(item);
  std::string order;
  for (int i = 0; i < 6; ++i) order += q.get(0s).get(kPatience).second;
  REQUIRE(order == "bdeacf");
}

TEST_CASE_METHOD(Fixture, "a queue carries move-only items, waiting gets and full puts included") {
  troupe::WorkQueue<std::unique_ptr<int>> q(system, {.capacity = 1});
  auto waiting = q.get();  // served by the first put
  q.put(std::make_unique<int>(1));
  REQUIRE(*std::move(waiting).get(kPatience) == 1);
  q.put(std::make_unique<int>(2));
  auto blocked = q.put(std::make_unique<int>(3));  // the queue is full: waits for room
  REQUIRE(*q.get(0s).get(kPatience) == 2);
  blocked.get(kPatience);
  REQUIRE(*q.get(0s).get(kPatience) == 3);
}

TEST_CASE_METHOD(Fixture, "a priority queue follows its comparator") {
  troupe::WorkQueue<int, std::greater<int>> q(system, {.order = troupe::QueueOrder::priority});
  for (int i : {3, 9, 1, 7}) q.put(i);
  REQUIRE(drain(q, 4) == std::vector<int>{9, 7, 3, 1});
}

TEST_CASE_METHOD(Fixture, "priority order is refused at construction for items it cannot compare") {
  using Q = troupe::WorkQueue<NotComparable>;
  REQUIRE_THROWS_AS(Q(system, {.order = troupe::QueueOrder::priority}), std::invalid_argument);
  Q fifo(system);  // other orders need no comparison
  fifo.put(NotComparable{4});
  REQUIRE(fifo.get(0s).get(kPatience).n == 4);
}

// -- getting -------------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "a get waits for the next put; waiting consumers are served in order") {
  troupe::WorkQueue<int> q(system);
  auto first = q.get();
  auto second = q.get(1h);
  REQUIRE(eventually([&] { return q.size().get(kPatience) == 0; }));
  REQUIRE_FALSE(first.ready());
  q.put(10);
  REQUIRE(first.get(kPatience) == 10);
  REQUIRE_FALSE(second.ready());
  q.put(20);
  REQUIRE(second.get(kPatience) == 20);
  REQUIRE(q.size().get(kPatience) == 0);
}

TEST_CASE_METHOD(Fixture, "a get times out exactly when due and only for its own waiter") {
  troupe::WorkQueue<int> q(system, {.name = "jobs"});
  auto short_get = q.get(100ms);
  auto long_get = q.get(1s);
  REQUIRE(q.size().get(kPatience) == 0);  // both gets have reached the actor
  clock->advance(99ms);
  REQUIRE(q.size().get(kPatience) == 0);
  REQUIRE_FALSE(short_get.ready());
  clock->advance(1ms);
  REQUIRE(outcome(short_get) == "TimeoutError");
  REQUIRE_THROWS_WITH(short_get.get(kPatience),
                      Catch::Contains("work queue 'jobs'") && Catch::Contains("100 ms"));
  q.put(7);
  REQUIRE(long_get.get(kPatience) == 7);  // the timed-out get took nothing
}

TEST_CASE_METHOD(Fixture, "a get with a zero timeout fails at once on an empty queue") {
  troupe::WorkQueue<int> q(system);
  REQUIRE(outcome(q.get(0s)) == "TimeoutError");
  q.put(1);
  REQUIRE(q.get(0s).get(kPatience) == 1);
}

// -- putting into a full queue
// ---------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "a put into a full queue waits for room, in arrival order") {
  troupe::WorkQueue<int> q(system, {.capacity = 2});
  REQUIRE(outcome(q.put(1)) == "value");
  REQUIRE(outcome(q.put(2)) == "value");
  auto third = q.put(3);
  auto fourth = q.put(4);
  REQUIRE(q.size().get(kPatience) == 2);
  REQUIRE_FALSE(third.ready());
  REQUIRE(q.get().get(kPatience) == 1);
  REQUIRE(outcome(third) == "value");
  REQUIRE_FALSE(fourth.ready());
  REQUIRE(q.size().get(kPatience) == 2);
  REQUIRE(drain(q, 3) == std::vector<int>{2, 3, 4});
  REQUIRE(outcome(fourth) == "value");
}

TEST_CASE_METHOD(Fixture, "a full queue that rejects fails the put with QueueFull") {
  troupe::WorkQueue<int> q(system,
                           {.capacity = 1, .when_full = troupe::WhenFull::reject, .name = "tight"});
  REQUIRE(outcome(q.put(1)) == "value");
  auto refused = q.put(2);
  REQUIRE(outcome(refused) == "QueueFull");
  REQUIRE_THROWS_AS(refused.get(kPatience), troupe::MailboxFull);  // a kind of MailboxFull
  REQUIRE_THROWS_WITH(refused.get(kPatience),
                      Catch::Contains("'tight'") && Catch::Contains("capacity 1"));
  REQUIRE(q.unfinished().get(kPatience) == 1);  // the refused item does not count
  REQUIRE(drain(q, 1) == std::vector<int>{1});
}

TEST_CASE_METHOD(Fixture, "a waiting put times out and its item is dropped") {
  troupe::WorkQueue<int> q(system, {.capacity = 1});
  q.put(1);
  auto late = q.put(2, 50ms);
  REQUIRE(q.size().get(kPatience) == 1);
  clock->advance(50ms);
  REQUIRE(outcome(late) == "TimeoutError");
  REQUIRE(drain(q, 1) == std::vector<int>{1});
  REQUIRE(outcome(q.get(0s)) == "TimeoutError");
  REQUIRE(q.unfinished().get(kPatience) == 1);
}

// -- task_done and join
// ----------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "join completes exactly when the last task_done arrives") {
  troupe::WorkQueue<int> q(system);
  REQUIRE(outcome(q.join()) == "value");  // nothing unfinished: at once
  for (int i = 0; i < 3; ++i) q.put(i);
  auto joined = q.join();
  drain(q, 3);
  REQUIRE(q.unfinished().get(kPatience) == 3);  // got is not done
  q.task_done();
  q.task_done();
  REQUIRE(q.unfinished().get(kPatience) == 1);
  REQUIRE_FALSE(joined.ready());
  q.put(3);  // more work arrives before the last task_done: join keeps waiting
  q.task_done();
  REQUIRE(q.unfinished().get(kPatience) == 1);
  REQUIRE_FALSE(joined.ready());
  drain(q, 1);
  auto last = q.task_done();
  REQUIRE(outcome(last) == "value");
  REQUIRE(outcome(joined) == "value");
}

TEST_CASE_METHOD(Fixture, "task_done more often than items were put fails with UsageError") {
  troupe::WorkQueue<int> q(system, {.name = "strict"});
  REQUIRE(outcome(q.task_done()) == "UsageError");
  q.put(1);
  drain(q, 1);
  REQUIRE(outcome(q.task_done()) == "value");
  auto extra = q.task_done();
  REQUIRE(outcome(extra) == "UsageError");
  REQUIRE_THROWS_WITH(extra.get(kPatience), Catch::Contains("'strict'"));
  REQUIRE(outcome(q.join()) == "value");  // the queue carries on
}

// -- consumers that end, and the end -------------------------------------------------------------

namespace {
struct Take {};
struct Ping {};
class Taker : public troupe::Actor {
 public:
  explicit Taker(troupe::WorkQueue<int> q) : q_(std::move(q)) {}
  troupe::Task<int> on(Take) { co_return co_await q_.get(); }
  int on(Ping) { return 1; }  // answered once Take has sent its get

 private:
  troupe::WorkQueue<int> q_;
};
}  // namespace

TEST_CASE_METHOD(Fixture, "a consumer actor that stops while waiting in get loses no item") {
  troupe::WorkQueue<int> q(system);
  auto taker = system.spawn<Taker>("taker", q);
  auto abandoned = taker.ask(Take{});
  REQUIRE(taker.ask(Ping{}).get(kPatience) == 1);
  REQUIRE(q.size().get(kPatience) == 0);  // the get has reached the queue and waits
  REQUIRE_FALSE(abandoned.ready());
  taker.stop();
  REQUIRE(eventually([&] { return !taker.alive(); }));
  q.put(42);
  REQUIRE(q.get(0s).get(kPatience) == 42);  // still there for the next consumer
}

TEST_CASE_METHOD(Fixture, "an actor co_awaits get and is answered by a later put") {
  troupe::WorkQueue<int> q(system);
  auto taker = system.spawn<Taker>("taker", q);
  auto got = taker.ask(Take{});
  REQUIRE(q.size().get(kPatience) == 0);
  q.put(5);
  REQUIRE(got.get(kPatience) == 5);
}

TEST_CASE("shutdown wakes every waiting get, put and join with Cancelled") {
  auto clock = std::make_shared<troupe::ManualClock>();
  troupe::System system{{.workers = 2, .clock = clock}};
  troupe::WorkQueue<int> empty(system, {.name = "empty"});
  troupe::WorkQueue<int> full(system, {.capacity = 1, .name = "full"});
  auto get = empty.get();
  auto timed_get = empty.get(1s);
  full.put(1);
  auto put = full.put(2);
  auto join = full.join();
  REQUIRE(empty.size().get(kPatience) == 0);
  REQUIRE(full.size().get(kPatience) == 1);
  REQUIRE(system.shutdown(5s));
  REQUIRE(outcome(get) == "Cancelled");
  REQUIRE(outcome(timed_get) == "Cancelled");
  REQUIRE(outcome(put) == "Cancelled");
  REQUIRE(outcome(join) == "Cancelled");
  REQUIRE_THROWS_WITH(get.get(kPatience), Catch::Contains("work queue 'empty'"));
  REQUIRE(outcome(empty.put(3)) == "Cancelled");  // calls after shutdown
  REQUIRE(outcome(empty.get(1s)) == "Cancelled");
}

TEST_CASE("when the last copy of a queue goes, its actor stops and its items with it") {
  troupe::System system{{.workers = 2}};
  std::size_t before = system.count();
  auto item = std::make_shared<int>(1);
  {
    troupe::WorkQueue<std::shared_ptr<int>> q(system);
    q.put(item);
    REQUIRE(q.size().get(kPatience) == 1);
    REQUIRE(item.use_count() == 2);
  }
  REQUIRE(eventually([&] { return system.count() == before; }));
  REQUIRE(eventually([&] { return item.use_count() == 1; }));  // the queued copy is gone
}

// -- under real threads
// ----------------------------------------------------------------------------

namespace {
struct Produce {
  int first;
  int count;
};
struct Consume {};

struct Tally {
  explicit Tally(int n) : seen(static_cast<std::size_t>(n)) {}
  std::vector<std::atomic<int>> seen;  // how often each item was consumed
  std::atomic<int> done{0};            // task_done calls sent
  std::atomic<int> producers_done{0};
};

class Producer : public troupe::Actor {
 public:
  Producer(troupe::WorkQueue<int> q, Tally* t) : q_(std::move(q)), t_(t) {}
  troupe::Task<void> on(Produce p) {
    for (int i = p.first; i < p.first + p.count; ++i) co_await q_.put(i);
    t_->producers_done.fetch_add(1);
  }

 private:
  troupe::WorkQueue<int> q_;
  Tally* t_;
};

class Consumer : public troupe::Actor {
 public:
  Consumer(troupe::WorkQueue<int> q, Tally* t) : q_(std::move(q)), t_(t) {}
  troupe::Task<void> on(Consume) {
    try {
      for (;;) {
        int item = co_await q_.get();
        t_->seen[static_cast<std::size_t>(item)].fetch_add(1);
        t_->done.fetch_add(1);
        q_.task_done();
      }
    } catch (const troupe::Cancelled&) {  // the queue stopped
    }
  }

 private:
  troupe::WorkQueue<int> q_;
  Tally* t_;
};
}  // namespace

TEST_CASE("8 producers and 8 consumers on two workers, gathered or spread, bounded or not: every "
          "item once, join exactly at the last task_done") {
  // Two workers meeting on the queue's lock make the pool gather them onto one (SystemOptions
  // ::gather): runnables handed over between workers must be neither lost nor run twice.
  const bool gather = GENERATE(true, false);
  const std::size_t capacity = GENERATE(std::size_t{32}, std::size_t{0});
  CAPTURE(gather, capacity);
#ifdef TROUPE_SANITIZED
  constexpr int kPerProducer = 300;
#else
  constexpr int kPerProducer = 2'500;
#endif
  constexpr int kProducers = 8;
  constexpr int kConsumers = 8;
  constexpr int kTotal = kProducers * kPerProducer;
  troupe::System system({.workers = 2, .gather = gather});
  troupe::WorkQueue<int> q(system, {.capacity = capacity, .name = "work"});
  Tally tally(kTotal);
  for (int c = 0; c < kConsumers; ++c) system.spawn<Consumer>({}, q, &tally).tell(Consume{});
  for (int p = 0; p < kProducers; ++p) {
    system.spawn<Producer>({}, q, &tally).tell(Produce{p * kPerProducer, kPerProducer});
  }
  REQUIRE(eventually([&] { return tally.producers_done.load() == kProducers; }, 60s));
  // Every put has been admitted, so from here on the unfinished count only falls.
  std::atomic<int> done_at_join{-1};
  auto joined = q.join();
  joined.on_ready([&](const troupe::Future<void>&) { done_at_join.store(tally.done.load()); });
  REQUIRE_NOTHROW(joined.get(60s));
  REQUIRE(eventually([&] { return done_at_join.load() != -1; }));
  REQUIRE(done_at_join.load() == kTotal);  // not one task_done early
  for (int i = 0; i < kTotal; ++i) {
    int times = tally.seen[static_cast<std::size_t>(i)].load();
    if (times != 1) FAIL("item " << i << " was consumed " << times << " times");
  }
  REQUIRE(q.size().get(kPatience) == 0);
  REQUIRE(q.unfinished().get(kPatience) == 0);
}
