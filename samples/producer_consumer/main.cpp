// producer_consumer - producers and consumers around a work queue (seed 001 "Producer-Consumer
// Threading", seed 002 "Queue", seed 004 "6. Queues").
//
// Python shares a queue.Queue between threads; consumers loop on get(), call task_done() for
// every item, and the main thread waits on queue.join():
//
//     def producer(queue):
//         for i in range(1, 6):
//             queue.put(i)
//
//     def consumer(queue):
//         while True:
//             item = queue.get()
//             print(f"Processing item {item}")
//             queue.task_done()
//
//     Thread(target=producer, args=(queue,)).start()
//     Thread(target=consumer, args=(queue,), daemon=True).start()
//     producer_thread.join()
//     queue.join()
//
// troupe::WorkQueue<T> is that queue as a system actor, with Queue, LifoQueue and
// PriorityQueue as one option (--order) and maxsize as another (--capacity: a full queue
// makes producers wait, which is back-pressure). Producers and consumers are actors whose
// handlers are coroutines: `co_await queue.get()` waits for an item without holding a worker
// thread, so a hundred idle consumers cost a hundred small objects, not a hundred threads.
//
// Each consumer remembers which items it handled. At the end main asks every consumer for its
// list and checks that each item was processed exactly once.
//
// Usage: producer_consumer [--producers N] [--consumers N] [--items N]
//                          [--order fifo|lifo|priority] [--capacity N] [--work-us N] [--verbose]
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/troupe.hpp>
#include <troupe/work_queue.hpp>

using namespace std::chrono;
using Clock = std::chrono::steady_clock;

namespace {

// -- the work items -------------------------------------------------------------------------

// One unit of work. A priority queue hands out the smallest first, as Python's PriorityQueue
// does with (priority, data) tuples; equal priorities come out in the order they were put.
struct Item {
  int priority = 0;
  long id = 0;
  friend bool operator<(const Item& a, const Item& b) { return a.priority < b.priority; }
};

// -- the actors -----------------------------------------------------------------------------

struct Produce {
  long first;
  long count;
};
struct Consume {};
struct Report {};

// def producer(queue): for i in ...: queue.put(i)
class Producer : public troupe::Actor {
 public:
  explicit Producer(troupe::WorkQueue<Item> queue) : queue_(std::move(queue)) {}

  troupe::Task<void> on(Produce p) {
    for (long id = p.first; id < p.first + p.count; ++id) {
      // With the queue full this waits (the worker thread runs other actors meanwhile).
      co_await queue_.put(Item{static_cast<int>((id * 7919) % 10), id});
    }
    stop();  // like the producer thread's function returning
  }

 private:
  troupe::WorkQueue<Item> queue_;
};

// def consumer(queue): while True: item = queue.get(); ...; queue.task_done()
class Consumer : public troupe::Actor {
 public:
  Consumer(troupe::WorkQueue<Item> queue, microseconds work, bool verbose)
      : queue_(std::move(queue)), work_(work), verbose_(verbose) {}

  troupe::Task<void> on(Consume) {
    try {
      for (;;) {
        Item item = co_await queue_.get();
        process(item);
        handled_.push_back(item.id);
        queue_.task_done();
      }
    } catch (const troupe::Cancelled&) {
      // The queue's actor stopped: the system is shutting down. Like the seed's daemon
      // consumer, this one simply ends with the program.
    }
  }

  // While the loop above waits in `get`, the actor handles other messages, such as this ask.
  std::vector<long> on(Report) const { return handled_; }

 private:
  void process(const Item& item) const {
    if (verbose_) {
      std::printf("%s: processing item %ld (priority %d)\n", std::string(name()).c_str(), item.id,
                  item.priority);
    }
    // Simulated work. It keeps the CPU busy rather than sleeping: a worker thread must never
    // sleep, since other actors are waiting for it (seed's time.sleep(2) would block it).
    auto until = Clock::now() + work_;
    while (Clock::now() < until) {
    }
  }

  troupe::WorkQueue<Item> queue_;
  microseconds work_;
  bool verbose_;
  std::vector<long> handled_;
};

troupe::QueueOrder parse_order(const std::string& s) {
  if (s == "lifo") return troupe::QueueOrder::lifo;
  if (s == "priority") return troupe::QueueOrder::priority;
  return troupe::QueueOrder::fifo;
}

// The three orders on the seed's own example: put 1, 3, 4, 2, then get four times. A plain
// thread (main) may wait on the futures with get(timeout).
void show_orders(troupe::System& system) {
  const char* names[] = {"fifo", "lifo", "priority"};
  for (const char* name : names) {
    troupe::WorkQueue<int> q(system, {.order = parse_order(name)});
    for (int x : {1, 3, 4, 2}) q.put(x).get(seconds(5));
    std::printf("%-8s order of 1 3 4 2:", name);
    for (int i = 0; i < 4; ++i) std::printf(" %d", q.get().get(seconds(5)));
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"producer_consumer: producers and consumers around a troupe::WorkQueue"};
  int producers = 2;
  int consumers = 4;
  long items = 10'000;
  std::string order = "fifo";
  std::size_t capacity = 64;
  int work_us = 0;
  bool verbose = false;
  app.add_option("--producers", producers, "producer actors")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--consumers", consumers, "consumer actors")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--items", items, "items in all, shared among the producers")
      ->check(CLI::Range(0L, 100'000'000L))
      ->capture_default_str();
  app.add_option("--order", order, "the order items leave the queue")
      ->check(CLI::IsMember({"fifo", "lifo", "priority"}))
      ->capture_default_str();
  app.add_option("--capacity", capacity, "most items queued at once; 0: unbounded")
      ->capture_default_str();
  app.add_option("--work-us", work_us, "simulated work per item, in microseconds of CPU")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  app.add_flag("--verbose", verbose, "print every item as it is processed");
  CLI11_PARSE(app, argc, argv);

  troupe::System system;
  show_orders(system);

  // queue = Queue(maxsize=capacity), or LifoQueue / PriorityQueue
  troupe::WorkQueue<Item> queue(
      system, {.order = parse_order(order), .capacity = capacity, .name = "work"});

  // The consumers are daemons, like the seed's consumer thread: they wait forever for work,
  // and must not keep join() waiting.
  std::vector<troupe::Ref<Consumer>> crew;
  for (int c = 0; c < consumers; ++c) {
    crew.push_back(
        system.spawn<Consumer>({.name = "consumer-" + std::to_string(c + 1), .daemon = true}, queue,
                               microseconds(work_us), verbose));
    crew.back().tell(Consume{});
  }

  auto t0 = Clock::now();
  long first = 0;
  for (int p = 0; p < producers; ++p) {
    long share = items / producers + (p < items % producers ? 1 : 0);
    auto producer = system.spawn<Producer>("producer-" + std::to_string(p + 1), queue);
    producer.tell(Produce{first, share});
    first += share;
  }

  system.join();                   // producer_thread.join(): every producer has put its items
  queue.join().get(seconds(600));  // queue.join(): every item put has been task_done
  double seconds_taken = duration<double>(Clock::now() - t0).count();

  // Collect what each consumer handled and check that every item was processed exactly once.
  std::vector<int> seen(static_cast<std::size_t>(items), 0);
  long processed = 0;
  long strays = 0;
  for (auto& consumer : crew) {
    std::vector<long> handled = consumer.ask(Report{}).get(seconds(30));
    std::printf("%s handled %zu item(s)\n", std::string(consumer.name()).c_str(), handled.size());
    for (long id : handled) {
      ++processed;
      if (id < 0 || id >= items) {
        ++strays;
      } else {
        ++seen[static_cast<std::size_t>(id)];
      }
    }
  }
  long missing = 0;
  long repeated = 0;
  for (int n : seen) {
    if (n == 0) ++missing;
    if (n > 1) ++repeated;
  }

  std::printf(
      "throughput: %ld items in %.3f s = %.0f items/s (%d producers, %d consumers, %s, "
      "capacity %zu)\n",
      processed, seconds_taken, seconds_taken > 0 ? processed / seconds_taken : 0.0, producers,
      consumers, order.c_str(), capacity);
  if (missing != 0 || repeated != 0 || strays != 0 || processed != items) {
    std::fprintf(stderr,
                 "producer_consumer: %ld of %ld items processed: %ld missing, %ld more than "
                 "once, %ld unknown\n",
                 processed, items, missing, repeated, strays);
    return 1;
  }
  std::printf("every item processed exactly once: %ld of %ld\n", processed, items);
  return 0;
}
