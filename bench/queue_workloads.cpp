// bench/queue_workloads.cpp - the seeds' patterns on troupe's system actors (issue 14):
// WorkQueue put/get/task_done (1p1c and 4p4c, capacity 64 and unbounded), Semaphore
// acquire/release, Event set -> wait wake-up, and a `co_await ask` round trip between two
// actors. troupe only: the Python and Go peers of the same shapes are bench/peers/, run
// beside this by bench/queues.sh (which prints the comparison table).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "harness.hpp"
#include "workloads.hpp"
#include <troupe/event.hpp>
#include <troupe/semaphore.hpp>
#include <troupe/troupe.hpp>
#include <troupe/work_queue.hpp>

namespace bench {
namespace {

troupe::SystemOptions options(const Config& config) {
  return {.workers = config.workers, .batch = config.batch};
}

template <class R>
R await(const troupe::Future<R>& future, const Config& config) {
  try {
    return future.get(config.deadline());
  } catch (const troupe::TimeoutError&) {
    wrong_result("the run did not finish before the deadline");
  }
}

// -- WorkQueue: producers put, consumers get + task_done, main joins -------------------------

using Queue = troupe::WorkQueue<std::int64_t>;
constexpr std::int64_t kStop = -1;  // a consumer's last item

struct Produce {
  std::int64_t first;
  std::int64_t count;
};
struct Consume {};

class QueueProducer : public troupe::Actor {
 public:
  QueueProducer(Queue queue, Countdown* done) : queue_(std::move(queue)), done_(done) {}
  troupe::Task<void> on(Produce p) {
    for (std::int64_t i = p.first; i < p.first + p.count; ++i) co_await queue_.put(i);
    done_->arrive();
    stop();
  }

 private:
  Queue queue_;
  Countdown* done_;
};

class QueueConsumer : public troupe::Actor {
 public:
  QueueConsumer(Queue queue, std::atomic<std::uint64_t>* sum) : queue_(std::move(queue)), sum_(sum) {}
  troupe::Task<void> on(Consume) {
    std::uint64_t sum = 0;
    for (;;) {
      std::int64_t item = co_await queue_.get();
      queue_.task_done();
      if (item == kStop) break;
      sum += static_cast<std::uint64_t>(item);
    }
    sum_->fetch_add(sum, std::memory_order_relaxed);
    stop();
  }

 private:
  Queue queue_;
  std::atomic<std::uint64_t>* sum_;
};

Sample work_queue(const Config& config, unsigned producers, unsigned consumers,
                  std::size_t capacity) {
  const std::uint64_t items = config.queue_items();
  const std::uint64_t per_producer = items / producers;
  const std::uint64_t total = per_producer * producers;
  std::atomic<std::uint64_t> sum{0};
  Countdown produced(producers);
  std::vector<troupe::Ref<QueueProducer>> ps;
  std::vector<troupe::Ref<QueueConsumer>> cs;
  double ns = 0;
  {
    troupe::System system(options(config));
    Queue queue(system, {.capacity = capacity});
    for (unsigned i = 0; i < producers; ++i) ps.push_back(system.spawn<QueueProducer>(troupe::SpawnOptions{}, queue, &produced));
    for (unsigned i = 0; i < consumers; ++i) cs.push_back(system.spawn<QueueConsumer>(troupe::SpawnOptions{}, queue, &sum));
    auto start = Clock::now();
    for (auto& c : cs) c.tell(Consume{});
    for (unsigned i = 0; i < producers; ++i) {
      ps[i].tell(Produce{static_cast<std::int64_t>(i * per_producer),
                         static_cast<std::int64_t>(per_producer)});
    }
    // Python's shape: wait for the producers, then queue.join().
    if (!produced.wait(config.deadline())) wrong_result("work queue: producers did not finish");
    await(queue.join(), config);
    ns = ns_since(start);
    print_stats("work queue", system);
    for (unsigned i = 0; i < consumers; ++i) await(queue.put(kStop), config);
    await(queue.join(), config);
    ps.clear();
    cs.clear();
    system.join();
  }
  expect_equal("work queue: sum of the items got", sum.load(), sum_below(total));
  return {ns / static_cast<double>(total)};
}

Sample wq_1p1c_64(const Config& c) { return work_queue(c, 1, 1, 64); }
Sample wq_1p1c_inf(const Config& c) { return work_queue(c, 1, 1, 0); }
Sample wq_4p4c_64(const Config& c) { return work_queue(c, 4, 4, 64); }
Sample wq_4p4c_inf(const Config& c) { return work_queue(c, 4, 4, 0); }

// -- Semaphore: one actor acquires and releases in a loop -----------------------------------

struct Loop {
  std::uint64_t n;
};

class SemUser : public troupe::Actor {
 public:
  SemUser(troupe::Semaphore sem, troupe::Promise<std::uint64_t> done)
      : sem_(std::move(sem)), done_(std::move(done)) {}
  troupe::Task<void> on(Loop l) {
    std::uint64_t held = 0;
    for (std::uint64_t i = 0; i < l.n; ++i) {
      troupe::Permit permit = co_await sem_.acquire();
      if (permit) ++held;
    }  // each permit goes back as it leaves scope
    done_.set_value(held);
    stop();
  }

 private:
  troupe::Semaphore sem_;
  troupe::Promise<std::uint64_t> done_;
};

Sample semaphore(const Config& config) {
  const std::uint64_t n = config.sync_rounds();
  troupe::System system(options(config));
  troupe::Semaphore sem(system, 1);
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto user = system.spawn<SemUser>(troupe::SpawnOptions{}, sem, std::move(done));
  auto start = Clock::now();
  user.tell(Loop{n});
  std::uint64_t held = await(result, config);
  double ns = ns_since(start);
  expect_equal("semaphore: permits acquired", held, n);
  system.join();
  return {ns / static_cast<double>(n)};
}

// -- Event: two actors hand a turn back and forth through two events -------------------------

class EventSide : public troupe::Actor {
 public:
  EventSide(troupe::Event mine, troupe::Event theirs, bool first,
            troupe::Promise<std::uint64_t> done)
      : mine_(std::move(mine)), theirs_(std::move(theirs)), first_(first), done_(std::move(done)) {}
  troupe::Task<void> on(Loop l) {
    std::uint64_t woke = 0;
    if (first_) theirs_.set();
    for (std::uint64_t i = 0; i < l.n; ++i) {
      bool ok = co_await mine_.wait();
      if (ok) ++woke;
      mine_.clear();
      if (i + 1 < l.n || !first_) theirs_.set();
    }
    done_.set_value(woke);
    stop();
  }

 private:
  troupe::Event mine_;
  troupe::Event theirs_;
  bool first_;
  troupe::Promise<std::uint64_t> done_;
};

Sample event(const Config& config) {
  const std::uint64_t n = config.sync_rounds();
  troupe::System system(options(config));
  troupe::Event a(system), b(system);
  troupe::Promise<std::uint64_t> done_a, done_b;
  auto ra = done_a.future();
  auto rb = done_b.future();
  auto sa = system.spawn<EventSide>(troupe::SpawnOptions{}, a, b, true, std::move(done_a));
  auto sb = system.spawn<EventSide>(troupe::SpawnOptions{}, b, a, false, std::move(done_b));
  auto start = Clock::now();
  sb.tell(Loop{n});
  sa.tell(Loop{n});
  std::uint64_t wa = await(ra, config);
  std::uint64_t wb = await(rb, config);
  double ns = ns_since(start);
  expect_equal("event: wake-ups", wa + wb, 2 * n);
  system.join();
  return {ns / static_cast<double>(2 * n)};  // per set -> wake-up
}

// -- co_await ask: a round trip between two actors -------------------------------------------

struct Query {
  std::uint64_t value;
};

class Answerer : public troupe::Actor {
 public:
  std::uint64_t on(const Query& q) { return q.value + 1; }
};

class Asker : public troupe::Actor {
 public:
  Asker(troupe::Ref<Answerer> to, troupe::Promise<std::uint64_t> done)
      : to_(std::move(to)), done_(std::move(done)) {}
  troupe::Task<void> on(Loop l) {
    std::uint64_t v = 0;
    for (std::uint64_t i = 0; i < l.n; ++i) v = co_await to_.ask(Query{v});
    done_.set_value(v);
    to_.stop();
    stop();
  }

 private:
  troupe::Ref<Answerer> to_;
  troupe::Promise<std::uint64_t> done_;
};

Sample askco(const Config& config) {
  const std::uint64_t n = config.sync_rounds();
  troupe::System system(options(config));
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto answerer = system.spawn<Answerer>();
  auto asker = system.spawn<Asker>(troupe::SpawnOptions{}, answerer, std::move(done));
  auto start = Clock::now();
  asker.tell(Loop{n});
  std::uint64_t v = await(result, config);
  double ns = ns_since(start);
  expect_equal("askco: answers", v, n);
  print_stats("askco", system);
  system.join();
  return {ns / static_cast<double>(n)};  // per round trip
}

}  // namespace

void print_stats(const char* what, const troupe::System& system) {
  if (std::getenv("BENCH_STATS") == nullptr) return;
  troupe::SystemStats s = system.stats();
  std::fprintf(stderr, "  [%s] sleeps %llu wakeups %llu steals %llu migrations %llu gathers %llu\n",
               what, static_cast<unsigned long long>(s.worker_sleeps),
               static_cast<unsigned long long>(s.wakeups), static_cast<unsigned long long>(s.steals),
               static_cast<unsigned long long>(s.migrations),
               static_cast<unsigned long long>(s.gathers));
}

const Entry kQueueRuns[] = {
    {"wq11_64", wq_1p1c_64}, {"wq11_inf", wq_1p1c_inf}, {"wq44_64", wq_4p4c_64},
    {"wq44_inf", wq_4p4c_inf}, {"semaphore", semaphore}, {"event", event},
    {"askco", askco},
};
const std::size_t kQueueRunCount = std::size(kQueueRuns);

}  // namespace bench
