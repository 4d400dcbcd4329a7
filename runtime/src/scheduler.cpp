// scheduler.cpp - workers, run queues, run-next, spinning and parking.
#include "internal/scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <utility>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal/cycles.hpp"

#include "internal/core.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TROUPE_CPU_RELAX() _mm_pause()
#else
#define TROUPE_CPU_RELAX() ((void)0)
#endif

namespace troupe::detail {

namespace {
constexpr unsigned kRunNextLimit = 32;  // consecutive run-next turns before the queue gets one
// Every kInjectEvery-th turn of a worker starts with the injection queue, so outside work
// waits at most that many turns (of at most `batch` messages each) whatever runs locally.
constexpr unsigned kInjectEvery = 61;
// Turns between two eager wakes (see Scheduler::schedule): at first, and after one that
// found work; doubled after each that found none, up to the maximum.
constexpr std::uint64_t kEagerWakeEvery = 16384;
constexpr std::uint64_t kEagerWakeMax = std::uint64_t{1} << 18;
// How long another worker must have been inside one and the same turn (its turn counter
// unmoved) before an idle worker takes the one runnable it left queued or in its run-next
// slot. Below this, moving the actor to another core costs more than waiting: a chain of
// actors whose turns hand work to each other stays on one core (issue 14: a second worker
// stealing each hand-off made a producer -> queue -> consumer chain 5x slower).
constexpr auto kStuckAfter = std::chrono::microseconds(20);
// A sleeper that left such a runnable queued looks again after this long, in case the turn
// in front of it runs long (no push wakes anyone for one queued runnable).
constexpr std::int64_t kRecheckUs = 1000;
// Gathering (internal/scheduler.hpp). While gathered, a worker is helped only once it has
// been this long inside one turn.
constexpr auto kStuckGathered = std::chrono::microseconds(200);
// adapt() is tried every kAdaptEvery turns of a worker and looks once per window.
constexpr std::uint64_t kAdaptEvery = 256;
constexpr std::int64_t kWindowNs = 2'000'000;
// A window gathers with at least kMinTurns turns, one migration in kMigrationOneIn turns
// or more, and turns shorter than kShortTurnNs on average.
constexpr std::uint64_t kMinTurns = 500;
constexpr std::uint64_t kMigrationOneIn = 20;
constexpr std::int64_t kShortTurnNs = 2'000;
// Or with more than one contended lock (note_contention) per this much busy time.
constexpr std::int64_t kContentionEveryNs = 5'000;
// Or with more than 1 / kStallShare of the busy time spent waiting on mailbox lines.
constexpr std::int64_t kStallShare = 4;
// A window that already shows one of these may gather after this much of it: the pool
// then runs spread for a quarter millisecond at the start (and when probing), not two.
constexpr std::int64_t kEarlyWindowNs = 250'000;
// A gathering lasts this long at first, twice as long each time a window confirms it.
constexpr std::int64_t kGatherMinNs = 10'000'000;
constexpr std::int64_t kGatherMaxNs = 1'000'000'000;

std::int64_t now_ns() noexcept {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}
}  // namespace

struct Scheduler::Worker {
  Worker(Scheduler& s, unsigned i)
      : owner(&s), index(i), producer(s.queue_), consumer(s.queue_), injected(s.inject_) {}
  Scheduler* owner;
  unsigned index;
  moodycamel::ProducerToken producer;
  moodycamel::ConsumerToken consumer;
  moodycamel::ConsumerToken injected;  // on the injection queue
  std::atomic<Runnable*> run_next{nullptr};  // the owner's next turn; idle workers may steal it
  // The owner empties run_next without a read-modify-write (take_run_next); these two
  // flags keep a thief from emptying it at the same moment.
  std::atomic<bool> taking{false};  // the owner is between its load and its store
  std::atomic<int> thieves{0};      // thieves about to empty the slot
  // While idle: each other worker's turn count as last seen, and since when (stuck()).
  struct Seen {
    std::uint64_t turns = ~std::uint64_t{0};
    std::chrono::steady_clock::time_point since{};
  };
  std::vector<Seen> seen;
  unsigned run_next_streak = 0;
  unsigned ticks = 0;
  std::thread thread;
  std::atomic<std::uint64_t> turns{0};  // runs finished; stop() watches it for progress
  std::atomic<std::uint64_t> migrations{0};  // see note_place; written by the owner only
  std::atomic<std::uint64_t> contentions{0};  // see note_contention; owner only
  std::atomic<std::uint64_t> stalls{0};       // see note_stall (cycles); owner only
  std::uint64_t next_eager_wake = 0;     // owner only: see Scheduler::schedule
  std::uint64_t eager_interval = kEagerWakeEvery;  // owner only: turns until the next one
  std::uint64_t steals_at_eager_wake = 0;          // owner only: steals_ at the last one
  bool exited = false;                  // guarded by the scheduler's exit mutex
  // Busy time (probe::worker_busy_seconds), written by the owner at idle's edges only.
  std::atomic<std::int64_t> busy_ns{0};     // busy stretches that ended
  std::atomic<std::int64_t> busy_since{0};  // steady-clock ns the current one began; 0: idle
};

namespace {
[[gnu::tls_model("initial-exec")]] thread_local Scheduler::Worker* tls_worker = nullptr;
// A turn runs here outside the pool: a test scheduler's one, or one an asker
// took over (Handoff). Blocking waits are refused during it, as on a worker.
[[gnu::tls_model("initial-exec")]] thread_local bool tls_outside_turn = false;
}  // namespace

[[gnu::tls_model("initial-exec")]] thread_local WorkerPlace tls_place{};

void note_contention() noexcept {
  std::atomic<std::uint64_t>* c = tls_place.contentions;
  if (c == nullptr) return;
  std::uint64_t n = c->load(std::memory_order_relaxed) + 1;
  c->store(n, std::memory_order_relaxed);
  // Turns that meet on a lock can be long (a consumer's loop of gets that never waits):
  // look from here too, not only between turns.
  if (n % kAdaptEvery == 0 && tls_worker != nullptr && tls_worker->owner->gather_) {
    tls_worker->owner->adapt();
  }
}

void note_stall(std::uint64_t cycles) noexcept {
  std::atomic<std::uint64_t>* c = tls_place.stalls;
  if (c == nullptr) return;
  c->store(c->load(std::memory_order_relaxed) + cycles, std::memory_order_relaxed);
  // As note_contention: the turns that stall may be long, so look from here too.
  if (++tls_place.stalls_noted % kAdaptEvery == 0 && tls_worker->owner->gather_) {
    tls_worker->owner->adapt();
  }
}

bool must_not_block() noexcept { return tls_worker != nullptr || tls_outside_turn; }

bool on_pool_thread() noexcept { return tls_worker != nullptr; }

namespace {
int membarrier(int cmd) { return static_cast<int>(syscall(__NR_membarrier, cmd, 0U, 0)); }

/// Whether the kernel gives this process cheap asymmetric fences (membarrier's private
/// expedited command, Linux 4.14): every running thread of the process passes a full
/// memory barrier before the call returns. Asked once; without it (old kernels, seccomp,
/// valgrind) the owner's take falls back to an exchange.
bool asymmetric_fences() noexcept {
  static const bool available = [] {
    int supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
  }();
  return available;
}
}  // namespace

OutsideTurn::OutsideTurn() noexcept : saved_(std::exchange(tls_outside_turn, true)) {}
OutsideTurn::~OutsideTurn() { tls_outside_turn = saved_; }

Scheduler::Scheduler(unsigned workers, std::chrono::microseconds spin, bool gather)
    : gather_(gather && workers > 1), spin_(spin), asymmetric_(workers > 0 && asymmetric_fences()) {
  workers_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
    workers_.back()->seen.resize(workers);
  }
}

Scheduler::~Scheduler() {
  for (auto& w : workers_) {
    if (!w->thread.joinable()) continue;
    if (w->thread.get_id() == std::this_thread::get_id()) {
      w->thread.detach();  // the last reference to the core ended on this worker
    } else {
      w->thread.join();
    }
  }
}

void Scheduler::start(Core* core) {
  for (auto& w : workers_) {
    core->retain();
    running_.fetch_add(1, std::memory_order_relaxed);
    w->thread = std::thread([this, core, worker = w.get()] {
      worker_main(*worker);
      {
        std::lock_guard lock(exit_mutex_);
        worker->exited = true;
      }
      exit_cv_.notify_all();
      core->release();
    });
  }
}

// -- putting work in ------------------------------------------------------------------------

void Scheduler::schedule(Runnable* r) noexcept {
  Worker* self = tls_worker;
  if (self != nullptr && self->owner == this) {
    // Only the owner fills its slot (thieves only empty it), so a slot seen empty stays
    // empty until this store: no read-modify-write needed.
    if (self->run_next.load(std::memory_order_relaxed) != nullptr) {
      if (Runnable* displaced = self->run_next.exchange(r, std::memory_order_acq_rel)) {
        push(self, displaced);
      }
      return;
    }
    self->run_next.store(r, std::memory_order_release);
    eager_wake(*self);
    return;
  }
  push(nullptr, r);
}

void Scheduler::eager_wake(Worker& self) noexcept {
  if (spinners_.load(std::memory_order_relaxed) != 0 ||
      self.turns.load(std::memory_order_relaxed) < self.next_eager_wake) {
    return;
  }
  // Everyone else is asleep, and this worker has one runnable waiting behind its turn
  // (in its run-next slot or alone in its queue): wake one, so that if this turn runs
  // long, that runnable is stolen instead of waiting for it. Not on every message: a futex
  // wake per message of a ping-pong pair would cost more than it could ever save. And
  // while the workers woken this way find nothing to take (a ping-pong pair: every wake is
  // 50 us of a spinning core that reads this worker's slot, and costs the pair ~1 ns per
  // message), ever more rarely: at the maximum, one per 262,144 turns, some 7 ms of
  // ping-pong.
  std::uint64_t steals = steals_.load(std::memory_order_relaxed);
  self.eager_interval = steals == self.steals_at_eager_wake
                            ? std::min(self.eager_interval * 2, kEagerWakeMax)
                            : kEagerWakeEvery;
  self.steals_at_eager_wake = steals;
  self.next_eager_wake = self.turns.load(std::memory_order_relaxed) + self.eager_interval;
  wake_one();
}

void Scheduler::yield(Runnable* r) noexcept {
  Worker* self = tls_worker;
  push(self != nullptr && self->owner == this ? self : nullptr, r);
}

void Scheduler::push(Worker* self, Runnable* r) noexcept {
  bool ok = self != nullptr ? queue_.enqueue(self->producer, r) : inject_.enqueue(r);
  if (!ok) {  // allocation failure inside the queue: run it here rather than lose it
    r->run();
    return;
  }
  if (self == nullptr || (!gathered() && queue_.size_approx() >= 2)) {
    // Outside work, or a backlog: worth another core (but not while gathered: the worker
    // that queued it runs it, and eager_wake still lets a stuck turn be helped).
    wake_one();
  } else {
    // One runnable queued by a worker that will take it itself after this turn: waking
    // another worker to take it would move the actor to another core for nothing (a chain
    // of actors that hand each other work). Only now and then, as for run-next.
    eager_wake(*self);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (exited_.load(std::memory_order_relaxed)) drain_inline();
}

void Scheduler::wake_one() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int sleeping = sleepers_.load(std::memory_order_relaxed);
  while (sleeping > 0) {
    if (sleepers_.compare_exchange_weak(sleeping, sleeping - 1, std::memory_order_acq_rel)) {
      wakeups_.fetch_add(1, std::memory_order_relaxed);
      sleep_.signal();
      return;
    }
  }
}

void Scheduler::drain_inline() noexcept {
  Runnable* r = nullptr;
  while (queue_.try_dequeue(r) || inject_.try_dequeue(r)) r->run();
}

bool Scheduler::take_any(Worker& self, Runnable*& r) noexcept {
  if (inject_.try_dequeue(self.injected, r)) {
    tls_place.counts = false;  // outside work: where it runs is no migration
    return true;
  }
  return queue_.try_dequeue(self.consumer, r);
}

bool Scheduler::stuck(Worker& self, std::size_t i, std::chrono::steady_clock::time_point now,
                      std::chrono::microseconds after) noexcept {
  Worker::Seen& seen = self.seen[i];
  std::uint64_t turns = workers_[i]->turns.load(std::memory_order_relaxed);
  if (seen.turns != turns) {
    seen.turns = turns;
    seen.since = now;
    return false;
  }
  return now - seen.since >= after;
}

bool Scheduler::other_active(Worker& self, bool lower) noexcept {
  auto now = std::chrono::steady_clock::now();
  std::size_t end = lower ? self.index : workers_.size();
  for (std::size_t i = 0; i < end; ++i) {
    if (i == self.index) continue;
    if (workers_[i]->busy_since.load(std::memory_order_relaxed) == 0) continue;  // idle
    if (!stuck(self, i, now, kStuckGathered)) return true;
  }
  return false;
}

void Scheduler::hand_over(Worker& self) noexcept {
  // No wake: the busy worker this one yields to looks at the injection queue every
  // kInjectEvery turns, and whenever it runs out of work of its own.
  Runnable* r = take_run_next(self);
  if (r != nullptr && !inject_.enqueue(r)) queue_.enqueue(self.producer, r);
  for (unsigned n = 0; n < 1024 && queue_.try_dequeue_from_producer(self.producer, r); ++n) {
    if (!inject_.enqueue(r)) {
      queue_.enqueue(self.producer, r);  // out of memory: keep it
      break;
    }
  }
}

std::uint64_t Scheduler::migrations() const noexcept {
  std::uint64_t sum = 0;
  for (const auto& w : workers_) sum += w->migrations.load(std::memory_order_relaxed);
  return sum;
}

void Scheduler::adapt() noexcept {
  std::int64_t now = now_ns();
  if (now < next_look_ns_.load(std::memory_order_relaxed)) return;
  if (adapting_.exchange(true, std::memory_order_acquire)) return;
  if (now < next_look_ns_.load(std::memory_order_relaxed)) {  // another just looked
    adapting_.store(false, std::memory_order_release);
    return;
  }
  Window w{.at_ns = now, .at_cycles = cycle_count()};
  for (const auto& worker : workers_) {
    w.turns += worker->turns.load(std::memory_order_relaxed);
    w.migrations += worker->migrations.load(std::memory_order_relaxed);
    w.contentions += worker->contentions.load(std::memory_order_relaxed);
    w.stall_cycles += worker->stalls.load(std::memory_order_relaxed);
    std::int64_t since = worker->busy_since.load(std::memory_order_relaxed);
    w.busy_ns += worker->busy_ns.load(std::memory_order_relaxed) +
                 (since != 0 && now > since ? now - since : 0);  // as busy(), without a vector
  }
  std::int64_t next = now + kEarlyWindowNs;
  if (gathered()) {
    // The gathering is over: spread, and judge the window that starts now.
    gathered_.store(false, std::memory_order_relaxed);
    probing_ = true;
    last_window_ = w;
  } else if (last_window_.at_ns == 0) {
    last_window_ = w;  // the first look: the first window starts
  } else if (const Window& l = last_window_; shows_gathering(
                 {w.turns - l.turns, w.migrations - l.migrations, w.contentions - l.contentions,
                  w.stall_cycles - l.stall_cycles, w.busy_ns - l.busy_ns, now - l.at_ns,
                  w.at_cycles - l.at_cycles})) {
    gather_for_ns_ = probing_ ? std::min(gather_for_ns_ * 2, kGatherMaxNs) : kGatherMinNs;
    gathered_.store(true, std::memory_order_relaxed);
    gathers_.fetch_add(1, std::memory_order_relaxed);
    next = now + gather_for_ns_;
    probing_ = false;
    last_window_ = w;
  } else if (now - l.at_ns >= kWindowNs) {
    probing_ = false;  // a whole window without a sign: stay spread
    last_window_ = w;
  }  // else the window goes on: look again a little later
  next_look_ns_.store(next, std::memory_order_relaxed);
  adapting_.store(false, std::memory_order_release);
}

bool Scheduler::shows_gathering(const Window& d) noexcept {
  bool chain = d.turns >= kMinTurns && d.migrations * kMigrationOneIn >= d.turns &&
               d.busy_ns < static_cast<std::int64_t>(d.turns) * kShortTurnNs;
  bool locks = static_cast<std::int64_t>(d.contentions) * kContentionEveryNs > d.busy_ns;
  // Stalls are in cycles of cycle_count(); the window's own length gives their rate.
  bool lines = d.at_cycles > 0 && static_cast<double>(d.stall_cycles) *
                                          static_cast<double>(d.at_ns) /
                                          static_cast<double>(d.at_cycles) * kStallShare >
                                      static_cast<double>(d.busy_ns);
  return chain || locks || lines;
}

Scheduler::Look Scheduler::look(Worker& self, Runnable*& r) noexcept {
  bool gathered_now = gathered();
  // Gathered, and another worker is busy with short turns: everything is left to it
  // (outside work and backlogs too), but for what a worker stuck for kStuckGathered left.
  bool defer = gathered_now && other_active(self, false);
  bool declined = false;
  if (defer) {
    declined = inject_.size_approx() != 0;
  } else if (inject_.try_dequeue(self.injected, r)) {  // nobody else will take it sooner
    tls_place.counts = false;
    return Look::found;
  }
  std::size_t queued = queue_.size_approx();
  // A backlog: more than the worker that queued it can take next. Worth another core.
  if (queued >= 2 && !gathered_now && queue_.try_dequeue(self.consumer, r)) return Look::found;
  // One runnable queued, or one in a run-next slot: only from a worker stuck in a turn.
  auto now = std::chrono::steady_clock::now();
  auto patience = gathered_now ? kStuckGathered : kStuckAfter;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    if (&w == &self) continue;
    bool has_next = w.run_next.load(std::memory_order_relaxed) != nullptr;
    if (queued == 0 && !has_next) continue;
    bool helped = stuck(self, i, now, patience);  // (stuck() notes what it saw: once)
    if (defer || !helped) declined = true;
    if (!helped) continue;
    if (queue_.try_dequeue_from_producer(w.producer, r)) return Look::found;
    if ((r = steal_run_next(w)) != nullptr) return Look::found;
  }
  // Queued by a worker that has gone since (it takes its own queue first, so this is rare).
  if (!defer && queued != 0 && !declined && queue_.try_dequeue(self.consumer, r)) {
    return Look::found;
  }
  return declined ? Look::declined : Look::nothing;
}

// -- the worker loop -------------------------------------------------------------------------

// Inlined into worker_main, its only caller: it is on every turn's path.
[[gnu::always_inline]] inline Runnable* Scheduler::find_work(Worker& self) noexcept {
  Runnable* r = nullptr;
  // Outside work first, now and then: neither the run-next slot nor the local queue may
  // hold it back for longer than kInjectEvery turns.
  if (++self.ticks % kInjectEvery == 0 && inject_.try_dequeue(self.injected, r)) {
    self.run_next_streak = 0;
    tls_place.counts = false;
    return r;
  }
  if (self.run_next_streak < kRunNextLimit) {
    if ((r = take_run_next(self)) != nullptr) {
      ++self.run_next_streak;
      return r;
    }
  } else if ((r = take_run_next(self)) != nullptr) {
    if (queue_.size_approx() == 0 && inject_.size_approx() == 0) {
      // The streak is used up, but nobody else is waiting: go on.
      self.run_next_streak = 1;
      return r;
    }
    queue_.enqueue(self.producer, r);  // streak used up: to the back of the line
    r = nullptr;
  }
  self.run_next_streak = 0;
  if (queue_.try_dequeue_from_producer(self.producer, r)) return r;
  // Gathered: a worker runs out of work of its own rather than take the work a busy
  // lower-numbered worker has (or was handed).
  if (gathered() && self.index != 0 && other_active(self, true)) return nullptr;
  if (take_any(self, r)) return r;
  return nullptr;
}

Runnable* Scheduler::take_run_next(Worker& self) noexcept {
  if (!asymmetric_) return self.run_next.exchange(nullptr, std::memory_order_acq_rel);
  // Only the owner fills the slot, so between our load and our store only a thief could
  // change it. A thief announces itself in `thieves`, then runs membarrier (a full
  // barrier on this thread too), then checks `taking` (steal_run_next). This is Dekker's
  // protocol with the heavy fence on the rare side: either we see the thief and take by
  // exchange, or the thief sees us inside and backs off. Either way one of us gets it.
  self.taking.store(true, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the barrier comes from membarrier
  Runnable* r;
  // Acquire: a thief that has come and gone (its fetch_sub read here) must have its CAS
  // seen by our load of the slot below.
  if (self.thieves.load(std::memory_order_acquire) != 0) {
    r = self.run_next.exchange(nullptr, std::memory_order_acq_rel);
  } else {
    r = self.run_next.load(std::memory_order_relaxed);
    if (r != nullptr) self.run_next.store(nullptr, std::memory_order_relaxed);
  }
  self.taking.store(false, std::memory_order_release);
  return r;
}

bool Scheduler::empty_run_next(Worker& victim, Runnable* r) noexcept {
  if (!asymmetric_) {
    return victim.run_next.compare_exchange_strong(r, nullptr, std::memory_order_acq_rel);
  }
  victim.thieves.fetch_add(1, std::memory_order_seq_cst);
  // The owner's next take sees `thieves`. Without the barrier (the call can fail, e.g. for
  // want of kernel memory) a steal would be unsafe: leave the actor to its owner.
  bool took = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 &&
              !victim.taking.load(std::memory_order_acquire) &&
              victim.run_next.compare_exchange_strong(r, nullptr, std::memory_order_acq_rel);
  victim.thieves.fetch_sub(1, std::memory_order_release);
  return took;
}

Runnable* Scheduler::steal_run_next(Worker& victim) noexcept {
  Runnable* r = victim.run_next.load(std::memory_order_acquire);
  if (r != nullptr && empty_run_next(victim, r)) return r;
  return nullptr;
}

bool Scheduler::idle(Worker& self, Runnable*& found) noexcept {
  // Spin a little: a wake-up from parking costs tens of microseconds. What another worker
  // will run next itself (its run-next slot, the one runnable it queued) is left to it
  // unless it has been stuck in one turn for kStuckAfter (look()).
  auto began = std::chrono::steady_clock::now();
  auto until = began + spin_;
  std::int64_t began_ns = began.time_since_epoch().count();
  self.busy_ns.store(self.busy_ns.load(std::memory_order_relaxed) + began_ns -
                         self.busy_since.load(std::memory_order_relaxed),
                     std::memory_order_relaxed);
  self.busy_since.store(0, std::memory_order_relaxed);
  spinners_.fetch_add(1, std::memory_order_relaxed);
  for (unsigned i = 1;; ++i) {
    // Outside work on every round, the rest (which reads the clock) every 16th.
    bool have = (!gathered() && inject_.try_dequeue(self.injected, found) &&
                 (tls_place.counts = false, true)) ||
                (i % 16 == 0 && look(self, found) == Look::found);
    if (have) {
      steals_.fetch_add(1, std::memory_order_relaxed);
      spinners_.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    if (stopping_.load(std::memory_order_acquire)) break;
    TROUPE_CPU_RELAX();
    if (i % 16 == 0) {
      if (std::chrono::steady_clock::now() >= until) break;
      if (i % 256 == 0) std::this_thread::yield();
    }
  }
  spinners_.fetch_sub(1, std::memory_order_relaxed);
  if (stopping_.load(std::memory_order_acquire)) return false;
  // Announce we sleep, then look once more so a push racing with us is not missed.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  Look last = look(self, found);
  bool have = last == Look::found;
  auto count_out = [&] {
    int sleeping = sleepers_.load(std::memory_order_relaxed);
    for (;;) {
      if (sleeping <= 0) {  // a waker already counted us out: take its signal
        sleep_.wait();
        return;
      }
      if (sleepers_.compare_exchange_weak(sleeping, sleeping - 1, std::memory_order_acq_rel)) {
        return;
      }
    }
  };
  if (have || stopping_.load(std::memory_order_acquire)) {
    if (have) steals_.fetch_add(1, std::memory_order_relaxed);
    count_out();
    return have;
  }
  sleeps_.fetch_add(1, std::memory_order_relaxed);
  if (last == Look::declined) {
    // Work was left to a worker that will take it after its turn; if that turn runs long,
    // nobody wakes us for it (push), so look again in a while.
    if (!sleep_.wait(kRecheckUs)) count_out();
    return false;
  }
  sleep_.wait();  // the waker took us off the sleeper count
  return false;
}

void Scheduler::worker_main(Worker& self) {
  tls_worker = &self;
  tls_place.index = static_cast<std::uint8_t>(std::min(self.index, 254u));
  tls_place.migrations = &self.migrations;
  tls_place.contentions = &self.contentions;
  tls_place.stalls = gather_ ? &self.stalls : nullptr;  // (stalls_counted)
  auto busy_now = [&self] {
    self.busy_since.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                          std::memory_order_relaxed);
  };
  busy_now();
  for (;;) {
    tls_place.counts = true;  // the take_* that find outside work say otherwise
    Runnable* r = find_work(self);
    if (r == nullptr) {
      if (stopping_.load(std::memory_order_acquire)) {
        if (!take_any(self, r)) break;
      } else {
        bool found = idle(self, r);
        busy_now();  // idle's edges read the clock, never a turn
        if (!found) continue;
      }
    }
    r->run();
    std::uint64_t turns = self.turns.load(std::memory_order_relaxed) + 1;
    self.turns.store(turns, std::memory_order_relaxed);
    if (gather_) {
      if (turns % kAdaptEvery == 0) adapt();
      if (self.index != 0 && gathered() && other_active(self, true)) {
        hand_over(self);
      }
    }
  }
  tls_worker = nullptr;
  running_.fetch_sub(1, std::memory_order_acq_rel);
}

std::vector<std::chrono::nanoseconds> Scheduler::busy() const {
  std::vector<std::chrono::nanoseconds> out;
  std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  for (const auto& w : workers_) {
    std::int64_t done = w->busy_ns.load(std::memory_order_relaxed);
    std::int64_t since = w->busy_since.load(std::memory_order_relaxed);
    out.emplace_back(done + (since != 0 && now > since ? now - since : 0));
  }
  return out;
}

// -- stopping --------------------------------------------------------------------------------

void Scheduler::stop(std::chrono::milliseconds grace) {
  stopping_.store(true, std::memory_order_seq_cst);
  sleep_.signal(static_cast<int>(workers_.size()));
  // Wait while the workers make progress (a long backlog of dead letters takes a while,
  // under sanitizers especially); give up on one only after `grace` without any turn
  // finishing, which means it is stuck inside a handler.
  {
    auto all_exited = [&] {
      for (auto& w : workers_) {
        if (!w->exited) return false;
      }
      return true;
    };
    auto turns = [&] {
      std::uint64_t sum = 0;
      for (auto& w : workers_) sum += w->turns.load(std::memory_order_relaxed);
      return sum;
    };
    std::uint64_t seen = turns();
    auto last_progress = std::chrono::steady_clock::now();
    std::unique_lock lock(exit_mutex_);
    while (!exit_cv_.wait_for(lock, std::chrono::milliseconds(50), all_exited)) {
      auto now = std::chrono::steady_clock::now();
      if (std::uint64_t t = turns(); t != seen) {
        seen = t;
        last_progress = now;
      } else if (now - last_progress >= grace) {
        break;
      }
    }
  }
  for (auto& w : workers_) {
    bool exited;
    {
      std::lock_guard lock(exit_mutex_);
      exited = w->exited;
    }
    if (exited) {
      w->thread.join();
    } else if (w->thread.joinable()) {
      std::fputs("troupe: a worker is still inside a handler after the shutdown deadline; "
                 "detaching it\n",
                 stderr);
      w->thread.detach();
    }
  }
  exited_.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  drain_inline();
}

}  // namespace troupe::detail
