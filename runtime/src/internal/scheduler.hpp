// internal/scheduler.hpp - the worker pool. Never installed.
//
// N workers share one moodycamel ConcurrentQueue of runnables. Each worker enqueues through
// its own producer token, so its sub-queue doubles as its local run queue (it dequeues from
// it first, others steal from it with a consumer token). Work from outside the pool (plain
// threads' sends and asks, timers, a dedicated thread's sends) goes into a second queue,
// the injection queue, which every worker looks at first once every kInjectEvery turns:
// an actor that keeps itself busy cannot hold outside work back for longer than that. A
// run-next slot lets the worker that wakes an actor run it right after the current turn
// (ping-pong stays on one core); it is bounded so a pair cannot starve the queue. Idle
// workers spin briefly, then sleep on a LightweightSemaphore.
//
// Gathering (SystemOptions::gather). Actors that keep handing each other work in short turns
// run several times faster on one core than spread over two: every hand-off across cores
// moves the actor's cache lines and the shared structures they meet on (a WorkQueue's lock,
// a mailbox). Each turn notes the worker it runs on (note_place); a turn of an actor that
// last ran on another worker is a migration. Every few milliseconds one worker looks at
// the window just past (adapt): many migrations (>= 1 in 20 turns) of short turns (under
// 2 us on average), workers that keep meeting on a system actor's lock (note_contention:
// more than one contended lock per kContentionEveryNs of busy time), or senders that spend
// more than a quarter of the busy time waiting for a mailbox's cache line from another
// core (note_stall: one push in 16 is timed), and the pool *gathers*: for a while, no
// worker takes another's backlog
// or outside work while a lower-numbered worker is busy with short turns, and a worker
// that has work while a lower-numbered one is busy hands it over (hand_over) through the
// injection queue. The work then runs on one worker. Once the while is over the pool
// spreads again for one window and looks again; each gathering it confirms lasts twice as
// long (up to a second). A worker stuck for kStuckGathered in one turn is still helped.
//
// Words, as used throughout the runtime:
//   worker         a thread of the pool. A dedicated thread (SpawnOptions) is not one.
//   runnable       what a worker runs: an actor's turn (Cell), a submitted job, a Handoff.
//   turn           one run of an actor: up to `batch` messages, then it yields or parks.
//   schedule       make a runnable runnable: into the run-next slot (from a worker of this
//                  pool) or the injection queue (from anywhere else).
//   yield          an actor that used up its batch goes to the back of the local queue.
//   run-next slot  one runnable a worker runs right after the current turn (ping-pong
//                  stays on one core); bounded by kRunNextLimit; idle workers may steal it.
//   local queue    a worker's own sub-queue of `queue_`; others steal from it.
//   injection      work from outside the pool, in `inject_`; looked at every kInjectEvery.
//   idle / sleep   a worker with nothing to run spins for `spin`, then sleeps on the
//                  semaphore (counted in worker_sleeps); a push wakes one sleeper.
//   park           only ever said of a mailbox: a turn that finds it empty parks it
//                  (Mailbox::park), and the next send wakes the actor by scheduling it.
//   steal          an idle worker takes queued work, or another worker's run-next slot.
//   hand-off       an ask's turn offered to the plain thread waiting for the answer
//                  (handoff.cpp), which may run it itself.
//   outside turn   a turn run off the pool (test scheduler, hand-off): waits refused.
//   migration      a pool turn of an actor whose previous pool turn ran on another worker.
//   gather         see above: the pool keeps its work on one worker for a while.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <concurrentqueue/concurrentqueue.h>
#include <concurrentqueue/lightweightsemaphore.h>

#include "troupe/detail/cell.hpp"
#include "troupe/detail/contention.hpp"

namespace troupe::detail {

class Core;

/// True on a worker thread of some System's pool: not on a thread that runs a turn outside
/// it (the test scheduler's caller, or an asker taking over its answer's turn), where
/// must_not_block() is also true.
bool on_pool_thread() noexcept;

/// What a pool worker tells the turns it runs about itself (see "Gathering" above).
struct WorkerPlace {
  static constexpr std::uint8_t kNone = 0xff;  // not a worker (workers past 254 share 254)
  std::uint8_t index = kNone;
  bool counts = false;  // this runnable came from the pool (not from outside it)
  std::atomic<std::uint64_t>* migrations = nullptr;  // the worker's own counts
  std::atomic<std::uint64_t>* contentions = nullptr;  // (note_contention)
  std::atomic<std::uint64_t>* stalls = nullptr;       // (note_stall)
  std::uint32_t stalls_noted = 0;
};
[[gnu::tls_model("initial-exec")]] extern thread_local WorkerPlace tls_place;

inline bool stalls_counted() noexcept { return tls_place.stalls != nullptr; }

/// Counts `cycles` (cycle_count) that a send on this thread waited for a mailbox head's
/// cache line held by another core, against the pool worker it runs on (a hint for
/// gathering, as note_contention). Nothing off the pool. Send's slow path only.
void note_stall(std::uint64_t cycles) noexcept;
/// Whether note_stall counts here: on a worker of a pool that gathers (else timing is waste).
inline bool stalls_counted() noexcept;

/// Called as a pool turn of an actor begins, with the worker its last turn ran on: counts
/// a migration if that was another worker, and records this one. Turn only.
inline void note_place(std::uint8_t& home) noexcept {
  WorkerPlace& place = tls_place;
  if (home == place.index) return;
  if (place.counts && home != WorkerPlace::kNone) {
    place.migrations->store(place.migrations->load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
  }
  home = place.index;
}

/// Marks this thread as running an actor's turn outside the pool for its lifetime (the
/// test scheduler's run_one, an asker's Handoff): blocking waits are refused meanwhile.
class OutsideTurn {
 public:
  OutsideTurn() noexcept;
  ~OutsideTurn();
  OutsideTurn(const OutsideTurn&) = delete;
  OutsideTurn& operator=(const OutsideTurn&) = delete;

 private:
  bool saved_;
};

/// The worker pool. (Deterministic systems use TestScheduler instead.)
class Scheduler {
 public:
  /// `workers` threads (none for a deterministic system, which never starts them).
  Scheduler(unsigned workers, std::chrono::microseconds spin, bool gather = true);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Starts the workers; each keeps `core` alive while it runs.
  void start(Core* core);
  /// Makes `r` runnable because something new arrived for it. On a worker of this pool it
  /// goes to the run-next slot; elsewhere into the shared queue. Thread-safe, never blocks.
  void schedule(Runnable* r) noexcept;
  /// Schedules `cell`, which an ask from a plain thread woke, as a Handoff that an untimed
  /// wait on `answer` may run (handoff.cpp). Thread-safe, never blocks.
  void schedule_ask(Cell* cell, StateBase& answer) noexcept;
  /// Puts `r` at the back of the queue (it used up its turn). Thread-safe, never blocks.
  void yield(Runnable* r) noexcept;
  /// Lets the workers finish what is queued, then stops them. Waits as long as they make
  /// progress; a worker that finishes no turn for `grace` is stuck in user code and is
  /// detached (and reported).
  /// Afterwards, anything scheduled runs inline on the scheduling thread.
  void stop(std::chrono::milliseconds grace);

  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }

  // -- counters ----------------------------------------------------------------------------
  /// Times a worker went to sleep (parked on the semaphore) for want of work.
  std::uint64_t sleeps() const noexcept { return sleeps_.load(std::memory_order_relaxed); }
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }
  /// Work an idle worker took from the shared queue or from another's run-next slot.
  std::uint64_t steals() const noexcept { return steals_.load(std::memory_order_relaxed); }
  /// Turns that ran on the asking thread (Handoff::run_here).
  std::uint64_t asker_turns() const noexcept {
    return asker_turns_.load(std::memory_order_relaxed);
  }
  void count_asker_turn() noexcept { asker_turns_.fetch_add(1, std::memory_order_relaxed); }
  /// Pool turns of an actor whose previous pool turn ran on another worker.
  std::uint64_t migrations() const noexcept;
  /// Times the pool gathered its work onto one worker (see "Gathering" above).
  std::uint64_t gathers() const noexcept { return gathers_.load(std::memory_order_relaxed); }
  /// Time each worker spent busy (not idle) since it started; read racily.
  std::vector<std::chrono::nanoseconds> busy() const;

  struct Worker;

 private:
  friend void note_contention() noexcept;
  friend void note_stall(std::uint64_t cycles) noexcept;
/// Whether note_stall counts here: on a worker of a pool that gathers (else timing is waste).
inline bool stalls_counted() noexcept;
  void worker_main(Worker& self);
  Runnable* find_work(Worker& self) noexcept;
  /// Spins, then sleeps, until work turns up (true, in `found`) or the pool stops.
  bool idle(Worker& self, Runnable*& found) noexcept;
  Runnable* take_run_next(Worker& self) noexcept;
  /// Empties `victim`'s run-next slot, if it holds anything; returns what it held.
  Runnable* steal_run_next(Worker& victim) noexcept;
  /// Whether worker `i` has been inside one and the same turn for kStuckAfter, as seen by
  /// `self`'s earlier calls.
  bool stuck(Worker& self, std::size_t i, std::chrono::steady_clock::time_point now,
             std::chrono::microseconds after) noexcept;
  /// While gathered: whether a worker other than `self` (a lower-numbered one only, with
  /// `lower`) is busy with turns that are not stuck, so `self` leaves the work to it.
  bool other_active(Worker& self, bool lower) noexcept;
  /// While gathered: gives `self`'s run-next and queued runnables to the injection queue.
  void hand_over(Worker& self) noexcept;
  /// Every few milliseconds: gathers or spreads (see "Gathering" above). Any worker.
  void adapt() noexcept;
  bool gathered() const noexcept { return gathered_.load(std::memory_order_relaxed); }
  enum class Look { found, nothing, declined };
  /// An idle worker's look for work: outside work, a backlog, or what a stuck worker left
  /// queued or in its run-next slot. `declined`: there was work, left to its worker.
  Look look(Worker& self, Runnable*& r) noexcept;
  /// Wakes a sleeper now and then when `self` has one runnable waiting behind its turn.
  void eager_wake(Worker& self) noexcept;
  bool empty_run_next(Worker& victim, Runnable* r) noexcept;
  void push(Worker* self, Runnable* r) noexcept;
  void wake_one() noexcept;
  void drain_inline() noexcept;
  /// Takes from the injection queue, else from any worker's sub-queue.
  bool take_any(Worker& self, Runnable*& r) noexcept;

  moodycamel::ConcurrentQueue<Runnable*> queue_;   // the workers' own sub-queues
  moodycamel::ConcurrentQueue<Runnable*> inject_;  // work from outside the pool
  moodycamel::LightweightSemaphore sleep_;
  std::atomic<int> sleepers_{0};
  std::atomic<int> spinners_{0};  // idle workers spinning (not yet parked)
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};
  std::atomic<unsigned> running_{0};
  std::atomic<std::uint64_t> sleeps_{0};
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<std::uint64_t> steals_{0};
  std::atomic<std::uint64_t> asker_turns_{0};
  // -- gathering (adapt) -------------------------------------------------------------------
  std::atomic<bool> gathered_{false};
  std::atomic<std::uint64_t> gathers_{0};
  std::atomic<std::int64_t> next_look_ns_{0};  // steady-clock ns of adapt's next look
  std::atomic<bool> adapting_{false};          // a worker is inside adapt
  struct Window {  // totals at the start of adapt's window, or one window's differences
    std::uint64_t turns = 0;
    std::uint64_t migrations = 0;
    std::uint64_t contentions = 0;
    std::uint64_t stall_cycles = 0;
    std::int64_t busy_ns = 0;
    std::int64_t at_ns = 0;       // when (steady-clock ns)
    std::uint64_t at_cycles = 0;  // cycle_count() then: the counter's rate, for stalls
  };
  static bool shows_gathering(const Window& difference) noexcept;
  Window last_window_;
  std::int64_t gather_for_ns_ = 0;  // how long the next gathering lasts (adapt only)
  bool probing_ = false;            // this window spreads after a gathering (adapt only)
  bool gather_;                     // SystemOptions::gather, with more than one worker
  std::chrono::microseconds spin_;
  bool asymmetric_;  // membarrier available: the owner takes run-next with plain accesses
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex exit_mutex_;  // members, not globals: a detached worker may outlive main()
  std::condition_variable exit_cv_;
};

}  // namespace troupe::detail
