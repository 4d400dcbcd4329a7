// scheduler.cpp - workers, run queues, run-next, spinning and parking.
#include "internal/scheduler.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>

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
constexpr unsigned kGlobalEvery = 61;   // every so often, look at the shared queue first
}  // namespace

struct Scheduler::Worker {
  explicit Worker(Scheduler& s) : owner(&s), producer(s.queue_), consumer(s.queue_) {}
  Scheduler* owner;
  moodycamel::ProducerToken producer;
  moodycamel::ConsumerToken consumer;
  Runnable* run_next = nullptr;
  unsigned run_next_streak = 0;
  unsigned ticks = 0;
  std::thread thread;
  bool exited = false;  // guarded by the exit mutex below
};

namespace {
thread_local Scheduler::Worker* tls_worker = nullptr;
thread_local bool tls_manual_turn = false;  // a manual-mode (deterministic) turn runs here
std::mutex exit_mutex;
std::condition_variable exit_cv;
}  // namespace

bool on_worker_thread() noexcept { return tls_worker != nullptr || tls_manual_turn; }

struct Scheduler::Manual {
  mutable std::mutex mutex;
  std::deque<Runnable*> ready;
  std::mt19937_64 rng;
  bool random = false;
};

Scheduler::Scheduler(unsigned workers, std::chrono::microseconds spin, bool manual,
                     std::uint64_t seed)
    : spin_(spin) {
  if (manual) {
    manual_ = std::make_unique<Manual>();
    manual_->rng.seed(seed);
    manual_->random = seed != 0;
    return;
  }
  workers_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>(*this));
}

Scheduler::~Scheduler() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Scheduler::start(Core* core) {
  for (auto& w : workers_) {
    core->retain();
    running_.fetch_add(1, std::memory_order_relaxed);
    w->thread = std::thread([this, core, worker = w.get()] {
      worker_main(*worker);
      {
        std::lock_guard lock(exit_mutex);
        worker->exited = true;
      }
      exit_cv.notify_all();
      core->release();
    });
  }
}

// -- putting work in ------------------------------------------------------------------------

void Scheduler::schedule(Runnable* r) noexcept {
  if (manual_) {
    yield(r);
    return;
  }
  Worker* self = tls_worker;
  if (self != nullptr && self->owner == this) {
    if (Runnable* displaced = std::exchange(self->run_next, r)) push(self, displaced);
    return;
  }
  push(nullptr, r);
}

void Scheduler::yield(Runnable* r) noexcept {
  if (manual_) {
    if (exited_.load(std::memory_order_acquire)) {
      r->run();
      return;
    }
    std::lock_guard lock(manual_->mutex);
    manual_->ready.push_back(r);
    return;
  }
  Worker* self = tls_worker;
  push(self != nullptr && self->owner == this ? self : nullptr, r);
}

void Scheduler::push(Worker* self, Runnable* r) noexcept {
  bool ok = self != nullptr ? queue_.enqueue(self->producer, r) : queue_.enqueue(r);
  if (!ok) {  // allocation failure inside the queue: run it here rather than lose it
    r->run();
    return;
  }
  wake_one();
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
  while (queue_.try_dequeue(r)) r->run();
}

// -- the worker loop -------------------------------------------------------------------------

Runnable* Scheduler::find_work(Worker& self) noexcept {
  Runnable* r = nullptr;
  if (self.run_next != nullptr && self.run_next_streak < kRunNextLimit) {
    ++self.run_next_streak;
    return std::exchange(self.run_next, nullptr);
  }
  self.run_next_streak = 0;
  if (self.run_next != nullptr) {  // streak used up: to the back of the line
    queue_.enqueue(self.producer, std::exchange(self.run_next, nullptr));
  }
  if (++self.ticks % kGlobalEvery == 0 && queue_.try_dequeue(self.consumer, r)) return r;
  if (queue_.try_dequeue_from_producer(self.producer, r)) return r;
  if (queue_.try_dequeue(self.consumer, r)) return r;
  return nullptr;
}

bool Scheduler::park(Worker& self, Runnable*& found) noexcept {
  // Spin a little: a wake-up from parking costs tens of microseconds.
  auto until = std::chrono::steady_clock::now() + spin_;
  for (unsigned i = 1;; ++i) {
    if (queue_.try_dequeue(self.consumer, found)) return true;
    if (stopping_.load(std::memory_order_acquire)) return false;
    TROUPE_CPU_RELAX();
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() >= until) break;
      std::this_thread::yield();
    }
  }
  // Announce we sleep, then look once more so a push racing with us is not missed.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool have = queue_.try_dequeue(self.consumer, found);
  if (have || stopping_.load(std::memory_order_acquire)) {
    int sleeping = sleepers_.load(std::memory_order_relaxed);
    for (;;) {
      if (sleeping <= 0) {  // a waker already counted us out: take its signal
        sleep_.wait();
        break;
      }
      if (sleepers_.compare_exchange_weak(sleeping, sleeping - 1, std::memory_order_acq_rel)) {
        break;
      }
    }
    return have;
  }
  parks_.fetch_add(1, std::memory_order_relaxed);
  sleep_.wait();  // the waker took us off the sleeper count
  return false;
}

void Scheduler::worker_main(Worker& self) {
  tls_worker = &self;
  for (;;) {
    Runnable* r = find_work(self);
    if (r == nullptr) {
      if (stopping_.load(std::memory_order_acquire)) {
        if (!queue_.try_dequeue(self.consumer, r)) break;
      } else if (!park(self, r)) {
        continue;
      }
    }
    r->run();
  }
  tls_worker = nullptr;
  running_.fetch_sub(1, std::memory_order_acq_rel);
}

// -- manual mode -------------------------------------------------------------------------------

bool Scheduler::run_one() {
  Runnable* r = nullptr;
  {
    std::lock_guard lock(manual_->mutex);
    auto& ready = manual_->ready;
    if (ready.empty()) return false;
    std::size_t i = manual_->random ? manual_->rng() % ready.size() : 0;
    r = ready[i];
    ready.erase(ready.begin() + static_cast<std::ptrdiff_t>(i));
  }
  bool saved = std::exchange(tls_manual_turn, true);
  r->run();
  tls_manual_turn = saved;
  return true;
}

std::size_t Scheduler::ready() const {
  if (!manual_) return 0;
  std::lock_guard lock(manual_->mutex);
  return manual_->ready.size();
}

// -- stopping --------------------------------------------------------------------------------

void Scheduler::stop(std::chrono::milliseconds grace) {
  if (manual_) {
    exited_.store(true, std::memory_order_seq_cst);
    while (run_one()) {
    }
    return;
  }
  stopping_.store(true, std::memory_order_seq_cst);
  sleep_.signal(static_cast<int>(workers_.size()));
  {
    std::unique_lock lock(exit_mutex);
    exit_cv.wait_for(lock, grace, [&] {
      for (auto& w : workers_) {
        if (!w->exited) return false;
      }
      return true;
    });
  }
  for (auto& w : workers_) {
    bool exited;
    {
      std::lock_guard lock(exit_mutex);
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
