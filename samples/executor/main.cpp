// executor - ThreadPoolExecutor's submit, map, as_completed and shutdown (seed 003 "Thread
// Pool", seed 002 "Thread Pools", seed 001 "The ThreadPoolExecutor").
//
// Python hands functions to a pool of threads and gets Futures back:
//
//     pool = ThreadPoolExecutor(8)
//     w1 = pool.submit(worker, 1)             # returns at once
//     print(f"Result of w1 : {w1.result()}")  # blocks until w1 is done
//     if w3.done(): ...
//     for result in executor.map(task, [1, 2]): ...
//     for f in as_completed(futures): ...
//     pool.shutdown()                         # no more work after this
//
// A troupe::System is such a pool. `system.submit(fn, args...)` runs fn on a worker thread and
// returns a troupe::Future; `system.map(fn, items)` is one future of all results in order;
// `when_any` / `when_all` combine futures, which is what as_completed and wait() do; and
// `system.shutdown()` refuses new work. Futures work the same everywhere: `get()` blocks a
// plain thread (like result()), `ready()` is done(), and inside an actor `co_await` waits
// without blocking anything.
//
// One difference matters: a submitted function runs on a worker thread, which the actors
// share, so it must compute, not sleep. The seed's workers `time.sleep(2)` to pretend to
// work; here they stay busy for a given time instead, standing in for a real computation.
// To wait for I/O, use an actor with a coroutine handler (see the fetcher sample).
//
// Usage: executor [--workers N] [--task-ms N]
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/troupe.hpp>

using namespace std::chrono;
using Clock = std::chrono::steady_clock;

namespace {

/// Stays busy for `length`, standing in for a computation (the seed's sleep).
void compute_for(milliseconds length) {
  auto until = Clock::now() + length;
  while (Clock::now() < until) {
  }
}

// def worker(number): print(...); time.sleep(2); return number ** 2
int worker(int number, milliseconds length) {
  std::printf("Counting the result for number %d\n", number);
  std::fflush(stdout);
  compute_for(length);
  return number * number;
}

// def task(id): ...; return f'Done with task {id}'
std::string task(int id, milliseconds length) {
  compute_for(length);
  return "Done with task " + std::to_string(id);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"executor: submit, map, as_completed and shutdown on troupe's worker pool"};
  unsigned workers = 4;
  int task_ms = 100;
  app.add_option("--workers", workers, "worker threads in the pool (ThreadPoolExecutor(N))")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--task-ms", task_ms, "how long each task computes (the seed sleeps 2 s)")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const milliseconds length(task_ms);

  // pool = ThreadPoolExecutor(workers)
  troupe::System pool({.workers = workers});

  // -- submit ---------------------------------------------------------------------------------
  std::printf("== submit\n");
  std::vector<troupe::Future<int>> w;  // w[0] is the seed's w1
  for (int n = 1; n <= 8; ++n) w.push_back(pool.submit(worker, n, length));
  std::printf("Hello World!\n");  // submit returned at once: the tasks run meanwhile
  std::fflush(stdout);

  std::printf("Result of w1 : %d\n", w[0].get());  // w1.result(): blocks until it is done
  std::printf("Result of w2 : %d\n", w[1].get());
  if (w[7].ready()) {  // w8.done(): never blocks
    std::printf("Result of w8 : %d\n", w[7].get());
  } else {
    std::printf("w8 is not done yet!\n");
  }
  for (std::size_t i = 2; i < w.size(); ++i) {
    std::printf("Result of w%zu : %d\n", i + 1, w[i].get(seconds(60)));
  }

  // -- map ------------------------------------------------------------------------------------
  // results = executor.map(task, [1, 2, 3, 4]): one future of every result, in input order.
  std::printf("== map\n");
  auto each = [length](int id) { return task(id, length); };
  for (const std::string& result : pool.map(each, std::vector<int>{1, 2, 3, 4}).get(seconds(60))) {
    std::printf("%s\n", result.c_str());
  }

  // -- as_completed ---------------------------------------------------------------------------
  // for future in as_completed(futures): ... -- when_any gives the index of the first future
  // to finish; take it out and ask again for the rest. Longer tasks go first, so the order in
  // which they complete differs from the order they were submitted in.
  std::printf("== as_completed\n");
  std::vector<int> lengths = {5, 1, 3, 2};  // in units of --task-ms
  std::vector<troupe::Future<std::string>> pending;
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    int id = static_cast<int>(i) + 1;
    pending.push_back(pool.submit(task, id, length * lengths[i]));
  }
  while (!pending.empty()) {
    std::size_t first = troupe::when_any(pending).get(seconds(60));
    auto after = duration_cast<milliseconds>(Clock::now() - t0).count();
    std::printf("%s (after %lld ms)\n", pending[first].get().c_str(),
                static_cast<long long>(after));
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(first));
  }

  // -- errors ---------------------------------------------------------------------------------
  // An exception in a task is kept in its future and thrown again by get(), like result().
  std::printf("== errors\n");
  troupe::Future<int> broken = pool.submit(
      [](int n) -> int {
        if (n < 0) throw std::domain_error("no square of a negative number today");
        return n * n;
      },
      -1);
  try {
    broken.get(seconds(60));
  } catch (const std::exception& e) {
    std::printf("the task failed: %s\n", e.what());
  }

  // -- wait for all ---------------------------------------------------------------------------
  // concurrent.futures.wait(fs): when_all is one future of every value, in order.
  std::printf("== when_all\n");
  std::vector<troupe::Future<int>> squares;
  for (int n = 1; n <= 10; ++n) squares.push_back(pool.submit([](int x) { return x * x; }, n));
  int sum = 0;
  for (int s : troupe::when_all(std::move(squares)).get(seconds(60))) sum += s;
  std::printf("sum of the squares of 1..10: %d\n", sum);

  // -- shutdown -------------------------------------------------------------------------------
  // pool.shutdown(): waits for what is running, then refuses new work. A submit afterwards
  // does not throw; its future fails, so the caller finds out where it waits for the result.
  std::printf("== shutdown\n");
  pool.shutdown(seconds(5));
  troupe::Future<int> late = pool.submit(worker, 9, length);
  try {
    late.get(seconds(5));
    std::fprintf(stderr, "executor: a task ran after shutdown\n");
    return 1;
  } catch (const troupe::ShutdownError& e) {
    std::printf("after shutdown, submit is refused: %s\n", e.what());
  }
  std::printf("Hello Result!\n");
  return sum == 385 ? 0 : 1;
}
