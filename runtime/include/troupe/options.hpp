// troupe/options.hpp - options for a System and for each spawn; the actors() snapshot.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "troupe/clock.hpp"

namespace troupe {

/// How a System is built. Aggregate: `troupe::System sys({.workers = 2});`
struct SystemOptions {
  /// Worker threads in the pool; 0 means one per core.
  unsigned workers = 0;
  /// Messages an actor may handle per turn before its worker moves on (fairness). >= 1.
  unsigned batch = 64;
  /// How long an idle worker spins looking for work before it parks (sleeps). Spinning
  /// buys latency (a wake-up from parking costs tens of microseconds) for idle CPU.
  std::chrono::microseconds spin{50};
  /// Let the pool gather work onto one worker while it sees actors hop between workers in
  /// short turns (actors that talk to each other run faster on one core than across two),
  /// and spread it again, now and then, to see whether that still holds (README, "How
  /// the pool places actors"). False: idle workers always take a backlog.
  bool gather = true;
  /// Deadline the destructor gives `shutdown` when the System goes out of scope.
  std::chrono::milliseconds shutdown_deadline{5000};
  /// Print a line to stderr for dead letters (rate-limited to a few per second).
  bool log_dead_letters = false;
  /// Print a line to stderr for every actor failure nobody else is told about: a failure
  /// under `restart` or `resume`, or a stop no watcher hears of (at most five lines a
  /// second; `stats().failures` counts them all). False silences them.
  bool log_failures = true;
  /// The clock timers run on; null means the steady clock (a ManualClock when
  /// deterministic). Tests pass a ManualClock.
  std::shared_ptr<Clock> clock{};
  /// No worker threads: actors run only inside `System::run_once` / `run_until_idle`, on
  /// the calling thread, so a test decides every step. Time is a ManualClock.
  bool deterministic = false;
  /// Write a Chrome/Perfetto trace (one track per thread, a slice per actor turn, sampled
  /// send-to-handle arrows) to this file at shutdown. Empty: the TROUPE_TRACE environment
  /// variable decides; unset, no tracing (and it costs one branch per turn).
  std::string trace_path{};
  /// Deterministic mode: 0 runs ready actors in the order they became ready; any other
  /// value picks the next one pseudo-randomly from this seed (replayable interleavings).
  std::uint64_t seed = 0;
};

/// What happens to an actor when an exception escapes one of its handlers.
enum class OnFailure : std::uint8_t {
  stop,      ///< the actor ends, failed (the default); watchers get Down with the reason
  restart,   ///< a fresh actor is built from the spawn arguments; the mailbox is kept
  resume,    ///< the failed message is skipped; the actor keeps its state and goes on
  escalate,  ///< the actor ends and its parent fails with the same reason
};

/// What a bounded mailbox does with a message that does not fit.
enum class Overflow : std::uint8_t {
  reject,       ///< refuse it: `tell` returns false, an ask fails with MailboxFull
  drop_newest,  ///< drop it as a dead letter (tell returns false, an ask fails)
  drop_oldest,  ///< make room by dropping the oldest queued message as a dead letter
  block,        ///< wait for room; only plain threads block, actors get `reject`
};

/// How one actor is spawned. Aggregate: `system.spawn<T>({.name = "clock", .daemon = true})`.
struct SpawnOptions {
  /// Unique among live actors; "" for an unnamed actor (shown as "<type>#<id>").
  std::string name{};
  /// A daemon actor does not keep `System::join()` waiting; shutdown stops it.
  bool daemon = false;
  /// Run this actor on a thread of its own, so its handlers may block (blocking I/O,
  /// `Future::get`). Costs a thread; the pool is not affected by what it does.
  bool dedicated_thread = false;
  /// What a failure does (see OnFailure). `restart` needs copyable spawn arguments.
  OnFailure on_failure = OnFailure::stop;
  /// Restart intensity: more than `max_restarts` failures within `restart_window` turn the
  /// next failure into a stop (watchers and the parent are told).
  unsigned max_restarts = 3;
  std::chrono::milliseconds restart_window{5000};
  /// Bound on queued normal messages; 0 means unbounded. Urgent and system messages are
  /// never refused.
  std::size_t mailbox_capacity = 0;
  /// What a full bounded mailbox does with one more message.
  Overflow overflow = Overflow::reject;
  /// Whether the actor takes its next message while a coroutine handler of its waits.
  /// true (reentrant): handlers interleave at each `co_await`, and state must be checked
  /// again after it. false (non-reentrant): a waiting coroutine holds the actor, which then
  /// takes only that coroutine's resumptions (and stop) until it ends; its mailbox fills,
  /// and a full queue downstream slows the senders (back-pressure). Unset: the class's own
  /// `static constexpr bool reentrant`, else true. README, "Reentrant or not".
  std::optional<bool> reentrant{};
};

/// What an actor is doing, in an `ActorInfo` snapshot.
enum class ActorState {
  idle,       ///< alive, nothing queued
  scheduled,  ///< has messages queued or is running a turn
  stopped,    ///< ended (seen only in a race with the snapshot)
};

/// One row of `System::actors()`: a snapshot, stale as soon as it is taken.
struct ActorInfo {
  std::string name;  ///< spawn name, or "<type>#<id>"
  std::string type;  ///< demangled C++ type
  std::uint32_t id = 0;
  /// Messages queued, the one in hand included; exact with one sender at a time, may read
  /// low while several senders race (caught up when the actor runs out of messages).
  std::uint32_t mailbox_depth = 0;
  ActorState state = ActorState::idle;
  bool daemon = false;
  bool dedicated_thread = false;
  std::uint32_t restarts = 0;  ///< times a supervision restart rebuilt it
  std::uint32_t handled = 0;   ///< messages handled so far (wraps at 2^32)
  std::uint32_t failures = 0;  ///< exceptions that escaped its handlers
  std::uint32_t parent = 0;    ///< id of the actor that spawned it; 0 if spawned by the System
};

}  // namespace troupe
