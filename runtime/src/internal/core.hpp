// internal/core.hpp - the engine behind a System. Never installed.
//
// A Core outlives its System while anything still points into it (cells held by stray
// Refs, a worker stuck past the shutdown deadline): it is reference-counted, and the
// System, every cell and every worker thread hold a reference.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "internal/probes.hpp"
#include "internal/registry.hpp"
#include "internal/scheduler.hpp"
#include "internal/test_scheduler.hpp"
#include "internal/timers.hpp"
#include "internal/trace.hpp"
#include "troupe/detail/cell.hpp"
#include "troupe/options.hpp"
#include "troupe/ref.hpp"

namespace troupe::detail {

/// Lets through at most `kPerSecond` events a second (stderr lines); thread-safe.
class RateLimit {
 public:
  static constexpr int kPerSecond = 5;
  bool allow() noexcept;

 private:
  std::atomic<std::int64_t> window_{0};
  std::atomic<int> count_{0};
};

/// What only the runtime keeps for an actor; allocated on first need.
struct Cold {
  std::string name;
  std::exception_ptr reason;                 // why it failed (set at termination)
  std::vector<Ref<Actor>> watchers;          // get a Down when this actor ends
  std::vector<Ref<Actor>> children;          // stopped when this actor ends
  // Coroutines awaiting futures: an intrusive list (Suspension::prev/next), so a
  // resumption leaves in O(1); each listed one holds a reference (suspension.cpp).
  struct Suspension* suspended = nullptr;
  std::vector<std::shared_ptr<TimerEntry>> timers;           // cancelled when it stops
  Ref<Actor> parent;                                          // told when this one fails
  std::uint32_t parent_id = 0;  // set before registration, then read-only (snapshots)
  // -- supervision --
  std::function<void(Cell*)> rebuild;  // builds a fresh actor (restart policy)
  std::deque<Clock::time_point> restart_times;
  unsigned max_restarts = 0;
  Clock::duration restart_window{};
  std::atomic<std::uint32_t> restarts{0};  // read by snapshots on other threads
  std::atomic<std::uint32_t> failures{0};  // exceptions that escaped handlers (mod 2^32)
  std::exception_ptr pending_failure;  // from a coroutine handler, applied after the turn's message
  // User messages a held non-reentrant actor took off its priority stack, oldest first,
  // linked through Node::next; they go first once the hold ends.
  Node* deferred_first = nullptr;
  Node* deferred_last = nullptr;
  // -- bounded mailbox --
  struct Bounded {
    std::mutex mutex;
    std::condition_variable space;
    std::deque<Envelope*> queue;  // user and runtime messages, in the order sent
    std::size_t user_messages = 0;  // those that count against the capacity
    std::size_t capacity = 0;
    Overflow overflow = Overflow::reject;
  };
  std::unique_ptr<Bounded> bounded;
};

class Core final : public WaitDriver {
 public:
  Core(System& system, SystemOptions options);
  ~Core();

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  System& system() const noexcept { return *system_; }
  const SystemOptions& options() const noexcept { return options_; }
  /// The worker pool (no workers in a deterministic system).
  Scheduler& pool() noexcept { return pool_; }
  /// A deterministic system's scheduler, or null.
  TestScheduler* test_scheduler() noexcept { return test_.get(); }
  bool deterministic() const noexcept { return test_ != nullptr; }
  /// Makes `r` runnable on whichever scheduler this system has. Thread-safe, never blocks.
  void schedule(Runnable* r) noexcept {
    if (test_ != nullptr) [[unlikely]] {
      test_->schedule(r);
    } else {
      pool_.schedule(r);
    }
  }
  /// Puts `r`, which used up its turn, at the back of the line. Thread-safe, never blocks.
  void yield(Runnable* r) noexcept {
    if (test_ != nullptr) [[unlikely]] {
      test_->schedule(r);
    } else {
      pool_.yield(r);
    }
  }
  TimerService& timers() noexcept { return timers_; }
  /// The tracer, or null when tracing is off: one relaxed load, on every turn. Either the
  /// file tracer (TROUPE_TRACE) or the live one, both made before any worker starts.
  Tracer* tracer() const noexcept { return tracer_.load(std::memory_order_relaxed); }
  /// The tracer writing TROUPE_TRACE's file, or null.
  Tracer* file_tracer() const noexcept { return file_tracer_.get(); }
  // -- probes (troupe/probe.hpp; probe.cpp) -----------------------------------------------------
  Tracer& live_tracer() noexcept { return *live_tracer_; }
  /// Makes `t` (or nothing) the tracer turns record to.
  void set_tracer(Tracer* t) noexcept { tracer_.store(t, std::memory_order_relaxed); }
  std::atomic<bool>& live_trace_running() noexcept { return live_trace_running_; }
  double live_trace_from() const noexcept { return live_trace_from_; }
  void set_live_trace_from(double us) noexcept { live_trace_from_ = us; }
  /// The send sampler while sampling is on, else null (one relaxed load per slow send).
  SendSampler* send_sampler() const noexcept { return sampling_.load(std::memory_order_relaxed); }
  SendSampler& sampler() noexcept { return sampler_; }
  void set_sampling(bool on) noexcept {
    sampling_.store(on ? &sampler_ : nullptr, std::memory_order_relaxed);
  }
  /// The ask clock while asks are timed, else null (one relaxed load per ask).
  AskClock* ask_clock() const noexcept { return timing_.load(std::memory_order_relaxed); }
  const AskClock& asks() const noexcept { return ask_clock_; }
  void set_timing(bool on) noexcept {
    timing_.store(on ? &ask_clock_ : nullptr, std::memory_order_relaxed);
  }
  /// Messages handled by actors that have ended (ActorInfo::handled of the live ones
  /// makes up the rest).
  std::uint64_t handled_by_ended() const noexcept {
    return handled_by_ended_.load(std::memory_order_relaxed);
  }
  /// Records a timer `owner` made, to cancel it when the owner stops. Owner's turn only.
  void own_timer(Cell& owner, const std::shared_ptr<TimerEntry>& entry);

  // -- registry --------------------------------------------------------------------------------
  void adopt(Cell* cell, const SpawnOptions& options, Cell* parent,
             std::function<void(Cell*)> rebuild);
  void retire(Cell* cell) noexcept;
  /// A registered cell's memory is going away (from ~Cell).
  void cell_freed(Cell* cell) noexcept;
  Ref<Actor> find(std::string_view name, bool (*is_wanted)(const Cell&)) const;
  std::vector<ActorInfo> snapshot() const;
  std::size_t count() const noexcept { return registry_.live(); }
  bool closing() const noexcept { return registry_.closed(); }
  bool cancelling() const noexcept { return cancelling_.load(std::memory_order_acquire); }

  // -- jobs --------------------------------------------------------------------------------------
  void job_started() noexcept { jobs_.fetch_add(1, std::memory_order_relaxed); }
  void job_finished() noexcept;

  // -- waiting -----------------------------------------------------------------------------------
  bool join(std::chrono::steady_clock::time_point until);
  /// Deterministic mode: runs ready actors on this thread; returns the turns run.
  std::size_t run_until_idle(std::size_t max_steps);
  /// Deterministic mode: one turn, for a thread waiting on a future (WaitDriver).
  bool step() noexcept override { return test_ != nullptr && test_->run_one(); }
  bool shutdown(std::chrono::milliseconds deadline, StopMode mode);

  // -- counters ----------------------------------------------------------------------------------
  void dead_letter(const Cell& target, const Envelope& e) noexcept;
  std::uint64_t dead_letters() const noexcept { return dead_letters_.load(std::memory_order_relaxed); }
  std::uint64_t spawned() const noexcept { return registry_.spawned(); }
  /// An exception escaped one of `cell`'s handlers (counted, whatever the policy).
  void count_failure() noexcept { failures_.fetch_add(1, std::memory_order_relaxed); }
  void count_restart() noexcept { restarts_.fetch_add(1, std::memory_order_relaxed); }
  void count_refusal() noexcept { refusals_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t refusals() const noexcept { return refusals_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }
  std::uint64_t restarts() const noexcept { return restarts_.load(std::memory_order_relaxed); }
  /// Prints "actor '<name>' <what>: <reason>" on stderr, unless the options turned failure
  /// logs off; at most RateLimit::kPerSecond lines a second.
  void report_failure(const Cell& cell, const std::exception_ptr& reason,
                      std::string_view what = "failed") noexcept;

 private:
  void start_dedicated(Cell* cell);
  std::vector<Ref<Actor>> live_refs() const;
  bool wait_all_ended(std::chrono::steady_clock::time_point until);
  /// Waits until `quiet()` holds or `until` passes; retire and job_finished wake it.
  template <class Pred>
  bool wait_quiet(std::chrono::steady_clock::time_point until, Pred quiet);
  void wake_waiters() noexcept;

  System* system_;
  SystemOptions options_;
  std::atomic<std::size_t> refs_{1};
  Scheduler pool_;
  std::unique_ptr<TestScheduler> test_;  // deterministic systems only
  TimerService timers_;
  std::unique_ptr<Tracer> file_tracer_;  // TROUPE_TRACE or SystemOptions::trace_path
  std::unique_ptr<Tracer> live_tracer_;  // probe::start_trace records here
  std::atomic<Tracer*> tracer_{nullptr};  // one of the two, or null
  std::atomic<bool> live_trace_running_{false};
  double live_trace_from_ = 0;  // guarded by live_trace_running_ (its owner writes it)
  SendSampler sampler_;
  std::atomic<SendSampler*> sampling_{nullptr};
  AskClock ask_clock_;
  std::atomic<AskClock*> timing_{nullptr};
  std::atomic<std::uint64_t> handled_by_ended_{0};

  Registry registry_;
  std::mutex mutex_;  // guards the waits below and dedicated_
  std::condition_variable quiet_;
  std::atomic<int> waiters_{0};  // threads in wait_quiet: only then do ends notify
  std::atomic<std::int64_t> jobs_{0};
  std::atomic<bool> cancelling_{false};
  bool shut_down_ = false;
  bool shutdown_result_ = true;
  std::mutex shutdown_mutex_;
  std::vector<std::thread> dedicated_;  // guarded by mutex_

  std::atomic<std::uint64_t> dead_letters_{0};
  RateLimit dead_letter_log_;
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> restarts_{0};
  std::atomic<std::uint64_t> refusals_{0};
  RateLimit failure_log_;
};

}  // namespace troupe::detail
