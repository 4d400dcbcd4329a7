// daemon - a background ticker that does not keep the program alive (seeds 000, 001, 002 and
// 003, "Daemon Threads").
//
// Python marks a thread as a daemon, and the program exits without waiting for it:
//
//     def background_task():
//         while True:
//             print("Running in background...")
//             time.sleep(1)
//
//     threading.Thread(target=background_task, daemon=True).start()
//     print("Main thread will exit soon.")
//     time.sleep(3)                     # then the program exits, the daemon with it
//
// In troupe, `daemon` is a spawn option. `system.join()` waits for every non-daemon actor,
// as Python waits for non-daemon threads at exit; a daemon actor does not count, and the
// System stops it when it shuts down. With --no-daemon the same ticker is an ordinary actor,
// and join() would wait for it forever: the sample then gives join a timeout to show it.
//
// Usage: daemon [--period-ms N] [--run-ms N] [--no-daemon]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>

#include <troupe/troupe.hpp>

using namespace std::chrono;

namespace {

struct Start {};
struct Tick {};

// background_task as an actor: instead of `while True: sleep(1)`, a Tick every period.
class Ticker : public troupe::Actor {
 public:
  explicit Ticker(milliseconds period) : period_(period) {}

  void on(Start) { every(period_, self<Ticker>(), Tick{}); }
  void on(Tick) {
    ++ticks_;
    std::printf("Running in background... (%d)\n", ticks_);
    std::fflush(stdout);
  }

 private:
  milliseconds period_;
  int ticks_ = 0;
};

const char* yes_no(bool b) { return b ? "yes" : "no"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"daemon: a daemon actor does not keep join() waiting"};
  int period_ms = 100;
  int run_ms = 350;
  bool no_daemon = false;
  app.add_option("--period-ms", period_ms, "time between ticks (the seed sleeps 1 s)")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--run-ms", run_ms, "how long the main thread works before it ends")
      ->check(CLI::Range(0, 600'000))
      ->capture_default_str();
  app.add_flag("--no-daemon", no_daemon, "spawn the ticker as an ordinary (non-daemon) actor");
  CLI11_PARSE(app, argc, argv);

  troupe::System system;

  // Thread(target=background_task, daemon=True).start()
  auto ticker =
      system.spawn<Ticker>({.name = "ticker", .daemon = !no_daemon}, milliseconds(period_ms));
  ticker.tell(Start{});

  // threading.enumerate(): a snapshot of the live actors, daemon flag included.
  for (const troupe::ActorInfo& info : system.actors()) {
    std::printf("actor '%s' alive, daemon: %s\n", info.name.c_str(), yes_no(info.daemon));
  }

  std::printf("Main thread will exit soon.\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(milliseconds(run_ms));  // time.sleep(3): the main thread works

  // The end of the program: Python waits here for non-daemon threads. join() with a timeout
  // reports whether everything that counts has ended.
  const auto patience = milliseconds(std::max(4 * period_ms, 500));
  auto t0 = steady_clock::now();
  bool ended = system.join(patience);
  auto waited = duration_cast<milliseconds>(steady_clock::now() - t0).count();
  if (ended) {
    std::printf("join() returned after %lld ms: only a daemon is left running\n",
                static_cast<long long>(waited));
  } else {
    std::printf(
        "join() gave up after %lld ms: 'ticker' is not a daemon, so it keeps the "
        "program alive (Python would hang here); stopping it by hand\n",
        static_cast<long long>(waited));
    ticker.stop();  // the non-daemon actor must be stopped explicitly
    system.join();
  }
  std::printf("Main thread done; the System stops any daemon as it goes out of scope.\n");
  return 0;
}
