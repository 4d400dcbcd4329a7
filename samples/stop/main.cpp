// stop - stopping a repeating task from outside with an Event (seed 002, "Stop Threads").
//
// Python runs a loop in a thread and checks a threading.Event between rounds:
//
//     def task(event):
//         for i in range(6):
//             print(f"Running #{i+1}")
//             sleep(1)
//             if event.is_set():
//                 print("The Thread was stopped prematurely")
//                 break
//         else:
//             print("The thread was stopped maturely.")
//
//     thread = Thread(target=task, args=(event,)); thread.start()
//     sleep(3)
//     event.set()
//
// An actor does not loop and sleep: that would hold a worker thread that other actors need.
// It asks for a Tick message every period (`every`), does one round per Tick, and returns.
// Between Ticks it costs nothing. The Event is a troupe::Event, a small system actor shared
// by handle; `is_set()` is one atomic load, so checking it in every round is free.
//
// Usage: stop [--period-ms N] [--runs N] [--stop-after-ms N | --no-stop]
#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

#include <CLI/CLI.hpp>

#include <troupe/event.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono;

namespace {

// The messages.
struct Start {};
struct Tick {};

// Python's task(event) as an actor. Its state (the round number, the timer) is its own.
class RepeatingTask : public troupe::Actor {
 public:
  RepeatingTask(troupe::Event stop, int runs, milliseconds period)
      : stop_(std::move(stop)), runs_(runs), period_(period) {}

  // thread.start(): the first round now, then one every period.
  void on(Start) {
    run_round();
    ticks_ = every(period_, self<RepeatingTask>(), Tick{});
  }

  // One round per Tick: what the body of Python's for-loop does after its sleep(1).
  void on(Tick) {
    if (stop_.is_set()) {  // if event.is_set(): ... break
      std::printf("The task was stopped prematurely\n");
      finish();
      return;
    }
    if (round_ == runs_) {  // the for-loop's else: every round ran
      std::printf("The task was stopped maturely.\n");
      finish();
      return;
    }
    run_round();
  }

 private:
  void run_round() {
    ++round_;
    std::printf("Running #%d\n", round_);
    std::fflush(stdout);
  }
  // Returning from Python's target function ends the thread; here the actor stops itself.
  // A timer belongs to its actor, so stopping would cancel it anyway; cancelling first says
  // so in the code.
  void finish() {
    std::fflush(stdout);
    ticks_.cancel();
    stop();
  }

  troupe::Event stop_;
  int runs_;
  milliseconds period_;
  int round_ = 0;
  troupe::Timer ticks_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stop: stop a repeating task early by setting an Event"};
  int period_ms = 200;
  int runs = 6;
  int stop_after_ms = -1;
  bool no_stop = false;
  app.add_option("--period-ms", period_ms, "time between rounds (the seed sleeps 1 s)")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--runs", runs, "rounds the task runs if nobody stops it")
      ->check(CLI::Range(1, 1'000))
      ->capture_default_str();
  auto* after = app.add_option("--stop-after-ms", stop_after_ms,
                               "set the event after this long (default: 3.5 periods)")
                    ->check(CLI::Range(0, 600'000));
  app.add_flag("--no-stop", no_stop, "never set the event: the task runs every round")
      ->excludes(after);
  CLI11_PARSE(app, argc, argv);

  const milliseconds period(period_ms);
  const milliseconds stop_after = stop_after_ms >= 0 ? milliseconds(stop_after_ms) : period * 7 / 2;

  troupe::System system;
  troupe::Event stop_event(system, "stop");  // event = Event()

  // thread = Thread(target=task, args=(event,)); thread.start()
  auto task = system.spawn<RepeatingTask>("task", stop_event, runs, period);
  task.tell(Start{});

  if (!no_stop) {
    // sleep(3); event.set() -- the main thread is a plain thread, so it may sleep.
    std::this_thread::sleep_for(stop_after);
    std::printf("main: setting the stop event\n");
    std::fflush(stdout);
    stop_event.set();
  }

  // The seed's main returns and Python waits for the non-daemon thread; join() does that.
  system.join();
  std::printf("main: the task has ended\n");
  return 0;
}
