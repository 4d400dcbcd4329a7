// race - the race condition of the threading tutorials, and the actor way out of it.
//
// Seeds 001 ("Race conditions"), 002 ("Thread Synchronization") and 004 ("5. Locks") all
// show the same bug. Several threads update one shared counter:
//
//     def increase(by):                 # Python, seed 002
//         global counter
//         local_counter = counter       # read
//         local_counter += by
//         counter = local_counter       # write: whatever happened in between is lost
//
// A thread can be switched out between the read and the write, so an update made by another
// thread in between is overwritten. Python's fix is a Lock around the two lines. troupe's fix
// is ownership: the counter lives inside one actor, and the only way to change it is to send
// that actor a message. An actor handles one message at a time, so there is nothing to lock
// and nothing to forget to lock.
//
// This program runs the same threads doing the same number of increments twice: once on a
// shared counter without a lock, once through an actor that owns the counter.
//
// Usage: race [--threads N] [--increments N]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/troupe.hpp>

using Clock = std::chrono::steady_clock;

namespace {

// -- the Python way: a shared counter, no lock ----------------------------------------------

// Each thread reads the counter and writes back the value plus one, like `local = counter;
// counter = local + 1`. The load and the store are each atomic (relaxed), so this is not
// undefined behaviour in C++ (a plain `long` would be a data race, which ThreadSanitizer
// rightly refuses), but the pair is not atomic: exactly Python's read-then-write. When two
// threads read the same value, both write value + 1, and one increment is lost.
long racy_count(int threads, long increments) {
  std::atomic<long> counter{0};
  std::latch start(threads);  // release all threads at once, so that they overlap
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (long i = 0; i < increments; ++i) {
        long local = counter.load(std::memory_order_relaxed);  // local_counter = counter
        counter.store(local + 1, std::memory_order_relaxed);   // counter = local_counter + 1
      }
    });
  }
  for (auto& thread : pool) thread.join();  // for t in threads: t.join()
  return counter.load();
}

// -- the actor way: the counter is an actor's state -----------------------------------------

// The messages: plain structs.
struct Increment {};
struct Get {};

// The counter and the only code that touches it. No lock, no atomic: troupe never runs two
// handlers of one actor at the same time, so `value_` is only ever touched by one thread.
class Counter : public troupe::Actor {
 public:
  void on(Increment) { ++value_; }
  long on(Get) const { return value_; }  // a return value answers an ask

 private:
  long value_ = 0;
};

long actor_count(troupe::System& system, int threads, long increments) {
  troupe::Ref<Counter> counter = system.spawn<Counter>("counter");
  std::latch start(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      for (long i = 0; i < increments; ++i) counter.tell(Increment{});  // never blocks
      // Messages from one sender arrive in the order sent, so when this ask is answered,
      // every increment this thread sent has been counted.
      counter.ask(Get{}).get(std::chrono::seconds(60));
    });
  }
  for (auto& thread : pool) thread.join();
  long total = counter.ask(Get{}).get(std::chrono::seconds(60));
  counter.stop();
  return total;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"race: threads racing on a shared counter vs. an actor that owns it"};
  int threads = 4;
  long increments = 500'000;
  app.add_option("--threads", threads, "threads updating the counter")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--increments", increments, "increments per thread")
      ->check(CLI::Range(1L, 10'000'000L))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const long expected = threads * increments;
  std::printf("%d threads, %ld increments each: the counter should end at %ld\n", threads,
              increments, expected);

  auto t0 = Clock::now();
  long racy = racy_count(threads, increments);
  double racy_ms = ms_since(t0);
  std::string lost = "(" + std::to_string(expected - racy) + " updates lost)";
  std::printf("%-27s %9ld  %-24s %8.1f ms\n", "shared counter, no lock:", racy, lost.c_str(),
              racy_ms);

  troupe::System system;
  t0 = Clock::now();
  long owned = actor_count(system, threads, increments);
  double actor_ms = ms_since(t0);
  std::printf("%-27s %9ld  %-24s %8.1f ms\n", "counter owned by an actor:", owned,
              owned == expected ? "(exact)" : "(WRONG)", actor_ms);
  system.join();

  if (racy == expected) {
    // Lost updates need two threads between their read and their write at the same moment;
    // on an idle machine with few cores they can all slip through. Run it again, or with
    // more --threads.
    std::printf("(no update was lost this time: the race is real but not guaranteed to bite)\n");
  }
  if (owned != expected) {
    std::fprintf(stderr, "race: the actor counted %ld, expected %ld\n", owned, expected);
    return 1;
  }
  return 0;
}
