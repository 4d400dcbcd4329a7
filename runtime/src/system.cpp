// system.cpp - System and its Core: registry, spawn, join, shutdown, counters.
#include "troupe/system.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>
#include <typeinfo>
#include <unordered_map>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "internal/demangle.hpp"
#include "internal/observe.hpp"

namespace troupe {
namespace detail {

namespace {

unsigned pick_workers(unsigned requested) {
  if (requested != 0) return requested;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}
}  // namespace

/// Runtime access to Cell internals that only the registry touches.
struct CellAccess;

Core::Core(System& system, SystemOptions options)
    : system_(&system),
      options_(options),
      pool_(options.deterministic ? 0 : pick_workers(options.workers), options.spin,
            options.gather),
      test_(options.deterministic ? std::make_unique<TestScheduler>(options.seed) : nullptr),
      timers_(options.deterministic && !options.clock ? std::make_shared<ManualClock>()
                                                      : options.clock) {
  std::string trace = options.trace_path;
  if (trace.empty()) {
    if (const char* env = std::getenv("TROUPE_TRACE"); env != nullptr) trace = env;
  }
  if (!trace.empty()) file_tracer_ = std::make_unique<Tracer>(std::move(trace));
  live_tracer_ = std::make_unique<Tracer>(std::string(), 64, probe::kMaxTraceEvents);
  tracer_.store(file_tracer_.get(), std::memory_order_relaxed);
}

std::size_t Core::run_until_idle(std::size_t max_steps) {
  std::size_t steps = 0;
  while (steps < max_steps && test_->run_one()) ++steps;
  return steps;
}

void Core::own_timer(Cell& owner, const std::shared_ptr<TimerEntry>& entry) {
  auto& timers = owner.cold().timers;
  if (timers.size() >= 16 && (timers.size() & (timers.size() - 1)) == 0) {
    std::erase_if(timers, [](const auto& t) { return t->cancelled.load(std::memory_order_acquire); });
  }
  timers.push_back(entry);
}

Core::~Core() = default;

// -- registry ---------------------------------------------------------------------------------

void Core::adopt(Cell* cell, const SpawnOptions& options, Cell* parent,
                 std::function<void(Cell*)> rebuild) {
  // Nothing here is seen by another thread before the registration below, except by one
  // a constructor handed self() to: such a sender reads the flags (published last, with
  // release) and, only once they say so, the bounded queue.
  if (!options.name.empty()) cell->cold().name = options.name;
  const auto flags = static_cast<std::uint8_t>(
      (options.daemon ? Cell::kDaemon : 0) | (options.dedicated_thread ? Cell::kDedicated : 0) |
      (options.mailbox_capacity > 0 ? Cell::kBounded : 0) | (cell->flags() & Cell::kTraced) |
      (options.reentrant.value_or(true) ? 0 : Cell::kNonReentrant) |
      (static_cast<unsigned>(options.on_failure) << Cell::kPolicyShift));
  if (options.on_failure == OnFailure::restart) {
    Cold& c = cell->cold();
    c.rebuild = std::move(rebuild);
    c.max_restarts = options.max_restarts;
    c.restart_window = options.restart_window;
  }
  if (options.mailbox_capacity > 0) {
    cell->cold().bounded = std::make_unique<Cold::Bounded>();
    cell->cold().bounded->capacity = options.mailbox_capacity;
    cell->cold().bounded->overflow = options.overflow;
  }
  cell->flags_.store(flags, std::memory_order_release);
  if (parent != nullptr) {
    cell->cold().parent = Access::ref(parent);
    cell->cold().parent_id = parent->id();
    // Room for the child now: nothing after the registration below may throw, or the
    // cell would be listed but never run.
    auto& children = parent->cold().children;
    if (children.size() >= 16 && (children.size() & (children.size() - 1)) == 0) {
      std::erase_if(children, [](const Ref<Actor>& c) { return Access::cell(c)->terminated(); });
    }
    children.reserve(children.size() + 1);
  }
  switch (registry_.add(cell, cell->name(), options.daemon)) {
    case Registry::Refusal::none:
      break;
    case Registry::Refusal::closing:
      cell->stillborn();
      cell->release();
      throw ShutdownError("cannot spawn '" + options.name + "': the system is shutting down");
    case Registry::Refusal::name_taken:
      cell->stillborn();
      cell->release();
      throw std::invalid_argument("cannot spawn '" + options.name +
                                  "': an actor with that name is already running");
  }
  // Cells keep the core alive (a stray Ref can still send dead letters to it), counted per
  // registry shard so that spawning on every worker does not contend on one counter.
  if (registry_.cell_made(cell)) retain();
  if (parent != nullptr) parent->cold().children.push_back(Access::ref(cell));  // reserved above
  if (options.dedicated_thread) start_dedicated(cell);
}

void Core::start_dedicated(Cell* cell) {
  Ref<Actor> keep = Access::ref(cell);
  std::lock_guard lock(mutex_);
  dedicated_.emplace_back([keep = std::move(keep)] { Access::cell(keep)->run_dedicated(); });
}

void Core::retire(Cell* cell) noexcept {
  // A wait for "no actors left" can only end when some shard has just emptied.
  bool emptied = registry_.remove(cell);
  // After the removal: a reader of this sum and then of the registry may miss the actor's
  // messages for a moment, never count them twice.
  handled_by_ended_.fetch_add(cell->handled(), std::memory_order_relaxed);
  if (emptied) wake_waiters();
  // The registry's reference stays with the cell until its last turn ends (Cell::turn).
}

void Core::cell_freed(Cell* cell) noexcept {
  if (registry_.cell_freed(cell)) release();
}

void Core::wake_waiters() noexcept {
  // Pairs with the increment in wait_quiet: either the waiter sees this end in its
  // predicate, or this sees the waiter and notifies it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_relaxed) == 0) return;
  { std::lock_guard lock(mutex_); }
  quiet_.notify_all();
}

template <class Pred>
bool Core::wait_quiet(std::chrono::steady_clock::time_point until, Pred quiet) {
  std::unique_lock lock(mutex_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool ok = quiet_.wait_until(lock, until, quiet);
  waiters_.fetch_sub(1, std::memory_order_relaxed);
  return ok;
}

Ref<Actor> Core::find(std::string_view name, bool (*is_wanted)(const Cell&)) const {
  return registry_.with_name(name, [&](Cell* c) {
    if (c == nullptr || c->terminated()) return Ref<Actor>();
    if (is_wanted != nullptr && !is_wanted(*c)) return Ref<Actor>();
    return Access::ref(c);
  });
}

std::vector<ActorInfo> Core::snapshot() const {
  std::vector<ActorInfo> out;
  out.reserve(registry_.live());
  // Demangling costs microseconds and most actors share a few types: once per type.
  std::unordered_map<const std::type_info*, std::string> types;
  registry_.for_each([&](Cell* c) {
    ActorInfo info;
    info.name = c->display_name();
    auto type = types.find(&c->type());
    if (type == types.end()) type = types.emplace(&c->type(), demangle(c->type())).first;
    info.type = type->second;
    info.id = c->id();
    info.mailbox_depth = c->mailbox_depth();
    info.state = c->terminated()          ? ActorState::stopped
                 : info.mailbox_depth > 0 ? ActorState::scheduled
                                          : ActorState::idle;
    info.daemon = c->daemon();
    info.restarts = c->restarts();
    info.handled = c->handled();
    info.failures = c->failures();
    info.dedicated_thread = (c->flags() & Cell::kDedicated) != 0;
    if (const Cold* cold = c->cold_.load(std::memory_order_acquire)) info.parent = cold->parent_id;
    out.push_back(std::move(info));
  });
  return out;
}

std::vector<Ref<Actor>> Core::live_refs() const {
  std::vector<Ref<Actor>> out;
  registry_.for_each([&](Cell* c) { out.push_back(Access::ref(c)); });
  return out;
}

// -- jobs and waiting ---------------------------------------------------------------------------

void Core::job_finished() noexcept {
  if (jobs_.fetch_sub(1, std::memory_order_acq_rel) == 1) wake_waiters();
}

bool Core::join(std::chrono::steady_clock::time_point until) {
  if (must_not_block()) {
    throw WouldDeadlock("System::join called on a worker thread; it would wait for itself");
  }
  if (Cell* self = current_cell(); self != nullptr && !self->daemon() && &self->core() == this) {
    // A non-daemon dedicated-thread actor: join waits for it to end, and it is the one
    // waiting (Python's RuntimeError for joining the current thread).
    throw WouldDeadlock("System::join called by the non-daemon actor '" + self->display_name() +
                        "', which join would wait for: it would wait for itself");
  }
  auto quiet = [&] {
    return registry_.nondaemon() == 0 && jobs_.load(std::memory_order_acquire) == 0;
  };
  if (test_ != nullptr) {  // nobody else runs the actors: run them until nothing is left
    run_until_idle(std::numeric_limits<std::size_t>::max());
    return quiet();
  }
  return wait_quiet(until, quiet);
}

bool Core::wait_all_ended(std::chrono::steady_clock::time_point until) {
  auto quiet = [&] {
    return registry_.live() == 0 && jobs_.load(std::memory_order_acquire) == 0;
  };
  if (test_ != nullptr) {
    run_until_idle(std::numeric_limits<std::size_t>::max());
    return quiet();
  }
  return wait_quiet(until, quiet);
}

bool Core::shutdown(std::chrono::milliseconds deadline, StopMode mode) {
  if (must_not_block()) {
    throw WouldDeadlock("System::shutdown called on a worker thread; it would wait for itself");
  }
  std::lock_guard once(shutdown_mutex_);
  if (shut_down_) return shutdown_result_;
  auto until = std::chrono::steady_clock::now() + deadline;
  // Drop: submitted functions not started yet are cancelled, not run. Set before closing, so
  // whoever sees the system refuse work also sees its queued jobs cancelled.
  if (mode == StopMode::drop) cancelling_.store(true, std::memory_order_release);
  registry_.close();
  timers_.stop();  // no timer fires from here on
  for (auto& r : live_refs()) {
    send_stop(Access::cell(r), mode);
  }
  bool clean = wait_all_ended(until);
  if (!clean) {
    // Deadline passed: drop what is left. Jobs still queued are cancelled, not run.
    cancelling_.store(true, std::memory_order_release);
    for (auto& r : live_refs()) send_stop(Access::cell(r), StopMode::drop);
    auto grace = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(100), deadline / 4);
    wait_all_ended(std::chrono::steady_clock::now() + grace);
  }
  cancelling_.store(true, std::memory_order_release);
  if (test_ != nullptr) {
    test_->stop();
  } else {
    pool_.stop(std::chrono::milliseconds(1000));
  }
  std::vector<std::thread> dedicated;
  {
    std::lock_guard lock(mutex_);
    dedicated.swap(dedicated_);
  }
  for (auto& t : dedicated) {
    // A dedicated thread exits once its actor has ended; one still blocked in user code
    // after the deadline cannot be interrupted, so it is left to finish on its own.
    if (registry_.live() == 0) {
      t.join();
    } else {
      t.detach();
    }
  }
  if (file_tracer_) file_tracer_->write();
  shut_down_ = true;
  shutdown_result_ = clean;
  return clean;
}

// -- counters -------------------------------------------------------------------------------------

void Core::dead_letter(const Cell& target, const Envelope& e) noexcept {
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  if (!options_.log_dead_letters) return;
  if (!dead_letter_log_.allow()) return;  // the counter keeps the exact figure
  try {
    const std::type_info* type = e.message_type();
    std::string line =
        fmt::format("troupe: dead letter: {} to '{}', which is no longer running\n",
                    type != nullptr ? demangle(*type) : "message", target.display_name());
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    report_loss("a dead-letter log line (the dead letter is counted)");
  }
}

bool RateLimit::allow() noexcept {
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
  std::int64_t seen = window_.load(std::memory_order_relaxed);
  if (seen != now && window_.compare_exchange_strong(seen, now, std::memory_order_relaxed)) {
    count_.store(0, std::memory_order_relaxed);
  }
  return count_.fetch_add(1, std::memory_order_relaxed) < kPerSecond;
}

void Core::report_failure(const Cell& cell, const std::exception_ptr& reason,
                          std::string_view what) noexcept {
  if (!options_.log_failures || !failure_log_.allow()) return;  // counted all the same
  try {
    std::string line = fmt::format("troupe: actor '{}' {}: {}\n", cell.display_name(), what,
                                   describe(reason));
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    report_loss("an actor failure's log line (the failure is counted)");
  }
}

// -- jobs ---------------------------------------------------------------------------------------

void JobBase::run() noexcept {
  if (core_->cancelling()) {
    abandon();
    return;
  }
  Core* core = core_;
  execute();
  delete this;
  core->job_finished();
}

void JobBase::abandon() noexcept {
  Core* core = core_;
  cancel(std::make_exception_ptr(
      ShutdownError("the job was cancelled: the system is shutting down")));
  delete this;
  core->job_finished();
}

}  // namespace detail

// -- System ---------------------------------------------------------------------------------------

System::System(SystemOptions options) {
  if (options.batch == 0) throw std::invalid_argument("SystemOptions::batch must be at least 1");
  if (options.spin.count() < 0) throw std::invalid_argument("SystemOptions::spin is negative");
  if (options.shutdown_deadline.count() < 0) {
    throw std::invalid_argument("SystemOptions::shutdown_deadline is negative");
  }
  if (options.deterministic && options.workers != 0) {
    throw std::invalid_argument(
        "SystemOptions: a deterministic system has no worker threads; leave `workers` at 0");
  }
  if (!options.deterministic && options.seed != 0) {
    throw std::invalid_argument(
        "SystemOptions::seed picks interleavings of a deterministic system; set "
        "deterministic = true or leave the seed at 0");
  }
  if (options.deterministic && options.clock &&
      dynamic_cast<ManualClock*>(options.clock.get()) == nullptr) {
    throw std::invalid_argument(
        "SystemOptions: a deterministic system runs on a ManualClock (leave `clock` empty "
        "or pass a troupe::ManualClock)");
  }
  core_ = std::shared_ptr<detail::Core>(new detail::Core(*this, options),
                                        [](detail::Core* c) { c->release(); });
  core_->pool().start(core_.get());
  // The thread that makes a deterministic system drives it: its untimed waits on futures
  // run the actors (StateBase::wait) instead of hanging.
  if (options.deterministic) detail::add_wait_driver(core_.get());
  detail::observe_from_env(*this);  // TROUPE_OBSERVE: loads troupe-observer, if set
}

System::~System() {
  detail::unobserve(*this);  // the observer reads this system: it goes first
  if (core_->options().deterministic) detail::remove_wait_driver(core_.get());
  try {
    core_->shutdown(core_->options().shutdown_deadline, StopMode::drain);
  } catch (...) {
    std::fputs("troupe: System destroyed on a worker thread; shutdown skipped\n", stderr);
  }
}

void System::check_spawn(const SpawnOptions& options) const {
  if (options.on_failure == OnFailure::restart && options.restart_window.count() <= 0) {
    throw std::invalid_argument(
        "SpawnOptions: restart_window must be positive (it is the period in which at most "
        "max_restarts failures are restarted)");
  }
  if (options.mailbox_capacity == 0 && options.overflow != Overflow::reject) {
    throw std::invalid_argument(
        "SpawnOptions: an overflow policy applies to a bounded mailbox; set mailbox_capacity");
  }
  if (core_->closing()) throw ShutdownError("cannot spawn: the system is shutting down");
}

void System::adopt(detail::Cell* cell, SpawnOptions options, detail::Cell* parent,
                   std::function<void(detail::Cell*)> rebuild) {
  core_->adopt(cell, options, parent, std::move(rebuild));
}

void System::post(detail::JobBase* job) {
  core_->job_started();
  if (core_->closing()) {
    job->abandon();  // the future fails with ShutdownError
    return;
  }
  core_->schedule(job);
}

Ref<Actor> System::find_cell(std::string_view name,
                              bool (*is_wanted)(const detail::Cell&)) const {
  return core_->find(name, is_wanted);
}

std::vector<ActorInfo> System::actors() const { return core_->snapshot(); }
std::size_t System::count() const noexcept { return core_->count(); }
unsigned System::workers() const noexcept { return core_->pool().size(); }

SystemStats System::stats() const noexcept {
  SystemStats s;
  s.spawned = core_->spawned();
  s.dead_letters = core_->dead_letters();
  s.worker_sleeps = core_->pool().sleeps();
  s.wakeups = core_->pool().wakeups();
  s.steals = core_->pool().steals();
  s.migrations = core_->pool().migrations();
  s.gathers = core_->pool().gathers();
  s.asker_turns = core_->pool().asker_turns();
  s.failures = core_->failures();
  s.restarts = core_->restarts();
  s.refusals = core_->refusals();
  s.handled_by_ended = core_->handled_by_ended();
  s.timers_pending = core_->timers().pending();
  return s;
}

void System::join() {
  if (!core_->join(std::chrono::steady_clock::time_point::max())) {
    throw std::logic_error(
        "System::join: the deterministic system ran out of work while non-daemon actors "
        "are still alive; it would wait forever");
  }
}

bool System::run_once() {
  require_deterministic("run_once");
  return core_->test_scheduler()->run_one();
}

std::size_t System::run_until_idle(std::size_t max_steps) {
  require_deterministic("run_until_idle");
  return core_->run_until_idle(max_steps);
}

void System::advance(Clock::duration d) {
  require_deterministic("advance");
  static_cast<ManualClock&>(const_cast<Clock&>(core_->timers().clock())).advance(d);
}

std::size_t System::runnable() const {
  return core_->deterministic() ? core_->test_scheduler()->ready() : 0;
}

void System::require_deterministic(const char* what) const {
  if (!core_->deterministic()) {
    throw std::logic_error(std::string("System::") + what +
                           " needs a deterministic system (SystemOptions::deterministic)");
  }
}

bool System::join(std::chrono::milliseconds timeout) {
  return core_->join(std::chrono::steady_clock::now() + timeout);
}

bool System::shutdown(std::chrono::milliseconds deadline, StopMode mode) {
  return core_->shutdown(deadline, mode);
}

}  // namespace troupe
