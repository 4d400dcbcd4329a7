// sigint - Ctrl-C becomes a graceful shutdown (seed 003, "Daemon Thread" with a SIGINT handler).
//
// Python installs a signal handler that sets a stop Event, and the worker loop checks it:
//
//     def timer():
//         count = 0
//         while True:
//             if stop_event.is_set():
//                 break
//             time.sleep(1)
//             count += 1
//             print("Logged in for ", count, " Seconds")
//
//     def handle_kb_interrupt(sig, frame):
//         stop_event.set()
//
//     stop_event = threading.Event()
//     signal.signal(signal.SIGINT, handle_kb_interrupt)
//
// troupe::SignalHandler does both halves. Its signal handler only writes a byte to a pipe (the
// one thing a signal handler may safely do); a thread of its own then sets the stop event and
// runs `system.shutdown(deadline)`: every actor handles what is already in its mailbox and
// stops, timers stop firing, and `system.join()` in main returns. A second Ctrl-C while that
// runs exits at once with status 130, as in a shell.
//
// An actor's destructor runs when it ends, however it ends: that is where it saves its state,
// like a `finally:` block around Python's loop.
//
// Usage: sigint [--period-ms N] [--self-signal-ms N]      (Ctrl-C to stop)
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <utility>

#include <CLI/CLI.hpp>

#include <troupe/event.hpp>
#include <troupe/signals.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono;

namespace {

struct Start {};
struct Tick {};
struct SendSigint {};

// Python's timer() as an actor: a Tick every period instead of `while True: sleep(1)`.
class SessionTimer : public troupe::Actor {
 public:
  SessionTimer(troupe::Event stop, milliseconds period) : stop_(std::move(stop)), period_(period) {}

  // Runs when the actor ends: after Ctrl-C, when the shutdown stops it.
  ~SessionTimer() override {
    std::printf("session timer: stopped after %d tick(s); state saved\n", ticks_);
    std::fflush(stdout);
  }

  void on(Start) { every(period_, self<SessionTimer>(), Tick{}); }

  void on(Tick) {
    // The seed's check. The shutdown stops this actor anyway; the flag lets a long handler
    // notice early and cut its work short.
    if (stop_.is_set()) return;
    ++ticks_;
    std::printf("Logged in for %d tick(s)\n", ticks_);
    std::fflush(stdout);
  }

 private:
  troupe::Event stop_;
  milliseconds period_;
  int ticks_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sigint: Ctrl-C (SIGINT) or SIGTERM shuts the actors down gracefully"};
  int period_ms = 1000;
  int self_signal_ms = 0;
  app.add_option("--period-ms", period_ms, "time between ticks")
      ->check(CLI::Range(1, 60'000))
      ->capture_default_str();
  app.add_option("--self-signal-ms", self_signal_ms,
                 "send this process a SIGINT after N ms (for unattended runs; 0: wait for Ctrl-C)")
      ->check(CLI::Range(0, 3'600'000));
  CLI11_PARSE(app, argc, argv);

  troupe::System system;
  // Declared after the System, so it is destroyed first (it restores the old handlers).
  troupe::SignalHandler signals(system, {.deadline = seconds(2)});

  // The timer is an ordinary (non-daemon) actor, so join() below waits for it.
  auto timer =
      system.spawn<SessionTimer>("session-timer", signals.stop_event(), milliseconds(period_ms));
  timer.tell(Start{});

  if (self_signal_ms > 0) {
    // For unattended runs: a daemon function actor that sends this process SIGINT, as if
    // someone pressed Ctrl-C. A timer delivers its message; nobody sleeps.
    auto alarm =
        system.spawn({.name = "alarm", .daemon = true}, [](SendSigint) { kill(getpid(), SIGINT); });
    system.after(milliseconds(self_signal_ms), alarm, SendSigint{});
  }

  std::printf("running; press Ctrl-C to stop\n");
  std::fflush(stdout);

  system.join();  // returns once the shutdown has stopped the timer

  if (signals.received() != 0) {
    std::printf("%s received: shut down gracefully\n",
                signals.received() == SIGINT ? "SIGINT" : "SIGTERM");
  }
  return 0;
}
