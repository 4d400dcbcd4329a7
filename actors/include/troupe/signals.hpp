// troupe/signals.hpp - SignalHandler: Ctrl-C (SIGINT) and SIGTERM become a graceful shutdown.
//
//   int main() {
//     troupe::System system;
//     troupe::SignalHandler signals(system);        // after the System: destroyed first
//     troupe::Event stop = signals.stop_event();    // seed 003's stop_event
//     system.spawn<Ticker>("ticker", stop);         // polls stop.is_set() or co_awaits wait()
//     system.join();                                // returns once Ctrl-C has shut down
//   }
//
// The first signal sets the stop event and runs `System::shutdown(deadline)`; a second
// one exits the process at once with status 130, as a second Ctrl-C does in a shell. The
// handlers themselves only write a byte to a pipe (async-signal-safe); a thread of the
// SignalHandler's own reads it and does the work, never a worker.
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "troupe/event.hpp"
#include "troupe/options.hpp"
#include "troupe/ref.hpp"

namespace troupe {

class System;

/// How a SignalHandler reacts. Aggregate: `{.deadline = 2s}`.
struct SignalOptions {
  /// The signals that ask for a shutdown.
  std::vector<int> signals{SIGINT, SIGTERM};
  /// The deadline the first signal gives `System::shutdown`.
  std::chrono::milliseconds deadline{5000};
  /// How the shutdown treats queued messages.
  StopMode mode = StopMode::drain;
  /// The status the process exits with on a second signal (130 = 128 + SIGINT).
  int force_exit_status = 130;
};

/// Installs handlers for SIGINT and SIGTERM (sigaction) while it lives, and restores the
/// previous handlers when destroyed. At most one SignalHandler exists at a time in a
/// process. Declare it after the System, so that it is destroyed first. The members are
/// thread-safe.
class TROUPE_API SignalHandler {
 public:
  /// Installs the handlers and starts the thread that reacts to them. Throws
  /// std::logic_error if another SignalHandler exists, std::system_error if a handler or
  /// the pipe cannot be set up, and what Event's constructor throws.
  ///
  ///   troupe::SignalHandler signals(system, {.deadline = std::chrono::seconds(2)});
  explicit SignalHandler(System& system, SignalOptions options = {});
  /// Restores the previous handlers. If a shutdown is running, waits for it to end first
  /// (it is bounded by its deadline); a second signal meanwhile still exits at once.
  ~SignalHandler();
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

  /// The event the first signal sets, before the shutdown starts. Actors hold a copy and
  /// check `is_set()` (or co_await `wait()`) to finish their work in time.
  Event stop_event() const { return stop_; }

  /// The first signal received, or 0 if none has arrived yet.
  int received() const noexcept;

  /// Blocks a plain thread until a signal has arrived and the shutdown it started has
  /// ended; returns false if that did not happen within `timeout`. Not for worker threads.
  bool wait_shutdown(std::chrono::milliseconds timeout);

 private:
  void run();

  System& system_;
  SignalOptions options_;
  Event stop_;
  int pipe_[2] = {-1, -1};
  std::vector<struct sigaction> previous_;
  mutable std::mutex mutex_;
  std::condition_variable ended_;
  int received_ = 0;        // guarded by mutex_
  bool shut_down_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace troupe
