// hello - the first two examples of the threading tutorial (seed 000), as actors.
//
// Python starts a thread that prints numbers while the main thread goes on, then joins it;
// then it starts five workers that finish at different times and joins them all. In troupe
// each "thread" is an actor: it owns its state, gets messages, and `system.join()` waits
// for every non-daemon actor to stop, as Python waits for non-daemon threads at exit.
//
// Usage: hello [--interval-ms N]   (default 200; the seed sleeps a whole second)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <troupe/troupe.hpp>

using namespace std::chrono;

namespace {

// The messages. Plain structs: a message is any movable type.
struct Count {
  int upto;
  milliseconds pause;
};
struct Work {
  int task_id;
  milliseconds length;
};

// Python: def print_numbers(): for i in range(5): print(...); time.sleep(1)
// The actor sleeps between numbers, which blocks its thread, so it is spawned with
// `dedicated_thread`: it gets a thread of its own and the worker pool is never held up.
class NumberPrinter : public troupe::Actor {
 public:
  void on(const Count& c) {
    for (int i = 0; i < c.upto; ++i) {
      std::printf("Number: %d\n", i);
      std::fflush(stdout);
      std::this_thread::sleep_for(c.pause);
    }
    stop();  // like run() returning: the actor ends, and join() stops waiting for it
  }
};

// Python: def worker(task_id): print starting; time.sleep(random); print finished
class Worker : public troupe::Actor {
 public:
  void on(const Work& w) {
    std::printf("Thread-%d starting\n", w.task_id);
    std::fflush(stdout);
    std::this_thread::sleep_for(w.length);
    std::printf("Thread-%d finished\n", w.task_id);
    std::fflush(stdout);
    stop();
  }
};

}  // namespace

int main(int argc, char** argv) {
  milliseconds interval{200};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--interval-ms" && i + 1 < argc) {
      char* end = nullptr;
      long v = std::strtol(argv[++i], &end, 10);
      if (end == nullptr || *end != '\0' || v < 0 || v > 10'000) {
        std::fprintf(stderr, "hello: --interval-ms wants a number from 0 to 10000\n");
        return 2;
      }
      interval = milliseconds(v);
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: hello [--interval-ms N]\n");
      return 0;
    } else {
      std::fprintf(stderr, "hello: unknown argument '%s' (try --help)\n", arg.c_str());
      return 2;
    }
  }

  troupe::System system;

  // thread = Thread(target=print_numbers); thread.start()
  auto printer = system.spawn<NumberPrinter>({.name = "printer", .dedicated_thread = true});
  printer.tell(Count{5, interval});
  for (int i = 0; i < 5; ++i) {
    std::printf("Main thread continues to run...\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(interval);
  }
  system.join();  // thread.join()

  // threads = [Thread(target=worker, args=(i,)) for i in range(5)]; start each
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> length(1, 4);
  std::vector<troupe::Ref<Worker>> workers;
  for (int i = 0; i < 5; ++i) {
    workers.push_back(
        system.spawn<Worker>({.name = "Thread-" + std::to_string(i), .dedicated_thread = true}));
  }
  std::printf("%zu workers alive\n", system.count());  // threading.active_count()
  for (int i = 0; i < 5; ++i) workers[i].tell(Work{i, interval * length(rng)});
  system.join();  // for thread in threads: thread.join()
  std::printf("All threads have completed.\n");
  return 0;
}
