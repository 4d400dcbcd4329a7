// internal/scheduler.hpp - the worker pool. Never installed.
//
// N workers share one moodycamel ConcurrentQueue of runnables. Each worker enqueues through
// its own producer token, so its sub-queue doubles as its local run queue (it dequeues from
// it first, others steal from it with a consumer token). Work from outside the pool (plain
// threads' sends and asks, timers, a dedicated thread's sends) goes into a second queue,
// the injection queue, which every worker looks at first once every kInjectEvery turns:
// an actor that keeps itself busy cannot hold outside work back for longer than that. A run-next slot lets the worker that wakes an actor run
// it right after the current turn (ping-pong stays on one core); it is bounded so a pair
// cannot starve the queue. Idle workers spin briefly, then park on a LightweightSemaphore.
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

namespace troupe::detail {

class Core;

/// True on a worker thread of some System's pool: not on a thread that runs a turn outside
/// it (the deterministic scheduler's caller, or an asker taking over its answer's turn),
/// where on_worker_thread() is also true.
bool on_pool_thread() noexcept;

class Scheduler {
 public:
  /// `workers` threads; with `manual`, no threads at all: runnables wait in a list until
  /// `run_one` picks one (the deterministic test scheduler).
  Scheduler(unsigned workers, std::chrono::microseconds spin, bool manual = false,
            std::uint64_t seed = 0);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Starts the workers; each keeps `core` alive while it runs.
  void start(Core* core);
  /// Makes `r` runnable because something new arrived for it. On a worker of this pool it
  /// goes to the run-next slot; elsewhere into the shared queue. Thread-safe, never blocks.
  void schedule(Runnable* r) noexcept;
  /// Schedules `cell`, which an ask from a plain thread woke, as a Handoff that an untimed
  /// wait on `answer` may run (internal/handoff.hpp). Thread-safe, never blocks.
  void hand_off(Cell* cell, StateBase& answer) noexcept;
  /// Puts `r` at the back of the queue (it used up its turn). Thread-safe, never blocks.
  void yield(Runnable* r) noexcept;
  /// Lets the workers finish what is queued, then stops them. Waits as long as they make
  /// progress; a worker that finishes no turn for `grace` is stuck in user code and is
  /// detached (and reported).
  /// Afterwards, anything scheduled runs inline on the scheduling thread.
  void stop(std::chrono::milliseconds grace);

  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }

  // -- manual (deterministic) mode ---------------------------------------------------------
  bool manual() const noexcept { return manual_ != nullptr; }
  /// Runs one runnable, picked pseudo-randomly from the seed (in order for seed 0), on this
  /// thread. Returns false if nothing was runnable. Manual mode only.
  bool run_one();
  /// Runnables waiting in manual mode.
  std::size_t ready() const;
  std::uint64_t parks() const noexcept { return parks_.load(std::memory_order_relaxed); }
  std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }
  /// Work an idle worker took from the shared queue or from another's run-next slot.
  std::uint64_t steals() const noexcept { return steals_.load(std::memory_order_relaxed); }
  /// Turns that ran on the asking thread (Handoff::take_over).
  std::uint64_t asker_turns() const noexcept {
    return asker_turns_.load(std::memory_order_relaxed);
  }

  struct Worker;

 private:
  void worker_main(Worker& self);
  Runnable* find_work(Worker& self) noexcept;
  bool park(Worker& self, Runnable*& found) noexcept;
  Runnable* take_run_next(Worker& self) noexcept;
  Runnable* steal_run_next(Worker& self) noexcept;
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
  std::atomic<std::uint64_t> parks_{0};
  std::atomic<std::uint64_t> wakeups_{0};
  std::atomic<std::uint64_t> steals_{0};
  std::atomic<std::uint64_t> asker_turns_{0};
  friend class Handoff;
  std::chrono::microseconds spin_;
  bool asymmetric_;  // membarrier available: the owner takes run-next with plain accesses
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex exit_mutex_;  // members, not globals: a detached worker may outlive main()
  std::condition_variable exit_cv_;
  struct Manual;
  std::unique_ptr<Manual> manual_;
};

}  // namespace troupe::detail
