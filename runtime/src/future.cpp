// future.cpp - the untyped half of Future/Promise: waiting, completing, callbacks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "troupe/future.hpp"

#include "troupe/detail/cell.hpp"  // current_cell()


namespace troupe::detail {

namespace {
void refuse_on_worker() {
  if (must_not_block()) {
    throw WouldDeadlock(
        "Future::get/wait called in an actor's turn (a handler, or anything on a troupe "
        "worker thread), which would block the pool; "
        "co_await the future in a Task handler, use then(), or spawn the actor with "
        "dedicated_thread");
  }
}
/// Runs one on_ready callback. An exception escaping it is reported on stderr
/// (rate-limited) and goes no further: not into the other callbacks, not into whoever
/// completed the future (an answering actor, a promise's set_value), not into on_ready.
void run_callback(std::function<void()>& callback) noexcept {
  try {
    callback();
  } catch (...) {
    report_callback_error(std::current_exception());
  }
}
}  // namespace

std::atomic<std::uint64_t> callback_errors_total{0};

void report_callback_error(const std::exception_ptr& error) noexcept {
  callback_errors_total.fetch_add(1, std::memory_order_relaxed);
  // At most five lines a second, process-wide: a callback that throws on every message
  // must not drown stderr.
  static std::atomic<std::int64_t> window{0};
  static std::atomic<int> lines{0};
  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
  std::int64_t seen = window.load(std::memory_order_relaxed);
  if (seen != now && window.compare_exchange_strong(seen, now, std::memory_order_relaxed)) {
    lines.store(0, std::memory_order_relaxed);
  }
  if (lines.fetch_add(1, std::memory_order_relaxed) >= 5) return;
  try {
    std::string line = fmt::format(
        "troupe: a Future callback threw ({}); the other callbacks ran, and the future "
        "keeps its result\n",
        describe(error));
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    std::fputs("troupe: a Future callback threw\n", stderr);
  }
}

// -- abandoned promises ---------------------------------------------------------------------

namespace {
thread_local std::exception_ptr tls_abandon_reason;
}  // namespace

std::exception_ptr abandoned_error() noexcept {
  if (tls_abandon_reason) return tls_abandon_reason;
  try {
    return std::make_exception_ptr(
        BrokenPromise("the answer was abandoned: the promise that owed it was dropped "
                      "unanswered"));
  } catch (...) {
    return std::current_exception();
  }
}

AbandonScope::AbandonScope(std::exception_ptr why) noexcept
    : saved_(std::exchange(tls_abandon_reason, std::move(why))) {}
AbandonScope::~AbandonScope() { tls_abandon_reason = std::move(saved_); }

// -- wait drivers (deterministic systems) -----------------------------------------------------

namespace {
struct Drivers {
  std::mutex mutex;
  std::vector<std::pair<std::thread::id, WaitDriver*>> list;
  std::atomic<int> count{0};  // waits skip the lock while no driver exists anywhere
};
Drivers& drivers() {
  static Drivers* d = new Drivers;  // never destroyed: systems may end after static exit
  return *d;
}
}  // namespace

void add_wait_driver(WaitDriver* driver) {
  Drivers& d = drivers();
  std::lock_guard lock(d.mutex);
  d.list.emplace_back(std::this_thread::get_id(), driver);
  d.count.fetch_add(1, std::memory_order_release);
}

void remove_wait_driver(WaitDriver* driver) noexcept {
  Drivers& d = drivers();
  std::lock_guard lock(d.mutex);
  auto gone = std::erase_if(d.list, [&](const auto& entry) { return entry.second == driver; });
  d.count.fetch_sub(static_cast<int>(gone), std::memory_order_release);
}

StateBase::Driven StateBase::drive() {
  Drivers& d = drivers();
  if (d.count.load(std::memory_order_acquire) == 0 || current_cell() != nullptr) {
    return Driven::nothing;
  }
  std::vector<WaitDriver*> mine;
  {
    std::lock_guard lock(d.mutex);
    for (auto& [thread, driver] : d.list) {
      if (thread == std::this_thread::get_id()) mine.push_back(driver);
    }
  }
  if (mine.empty()) return Driven::nothing;
  while (!ready()) {
    bool progressed = false;
    for (WaitDriver* driver : mine) progressed = driver->step() || progressed;
    if (!progressed) return ready() ? Driven::ready : Driven::stalled;
  }
  return Driven::ready;
}

// -- the slow part: blocking waits and callbacks ---------------------------------------------

struct StateBase::Slow {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::function<void()>> callbacks;  // in the order they were added
};

StateBase::Slow& StateBase::slow() {
  Slow* s = slow_.load(std::memory_order_acquire);
  if (s != nullptr) return *s;
  auto* fresh = new Slow;
  if (slow_.compare_exchange_strong(s, fresh, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
    return *fresh;
  }
  delete fresh;  // another thread made it first
  return *s;
}

// Callbacks that never ran are destroyed here (a Waker wrapped in one is dropped).
void StateBase::free_slow(Slow* s) noexcept { delete s; }

// -- waiting --------------------------------------------------------------------------------

void StateBase::wait() {
  if (ready()) return;
  refuse_on_worker();
  switch (drive()) {
    case Driven::ready:
      return;
    case Driven::stalled:
      throw WouldDeadlock(
          "Future::get/wait without a timeout on the thread of a deterministic System whose "
          "actors have nothing left to run: the future would never complete. Advance its "
          "clock (System::advance) or send what the actors wait for, then wait again");
    case Driven::nothing:
      break;
  }
  // The ask that made this state woke an idle actor: if no worker has started its turn,
  // run it here rather than sleep until one wakes up (handoff.cpp). Only an untimed wait
  // does this (a handler run here could outlast any deadline), and not inside another
  // actor's turn (a dedicated thread's).
  if (turn_.load(std::memory_order_relaxed) != nullptr && current_cell() == nullptr) {
    if (AnsweringTurn* turn = turn_.exchange(nullptr, std::memory_order_acquire)) {
      turn->run_here();
      if (ready()) return;
    }
  }
  Slow& s = slow();
  std::unique_lock lock(s.mutex);
  // Marked slow under the lock: a completer that publishes after this locks it too, so its
  // notification cannot fall between our check and our sleep.
  if ((word_.fetch_or(kSlow, std::memory_order_acq_rel) & kReady) != 0) return;
  s.cv.wait(lock, [&] { return ready(); });
}

bool StateBase::wait_for(std::chrono::nanoseconds timeout) {
  if (ready()) return true;
  refuse_on_worker();
  Slow& s = slow();
  std::unique_lock lock(s.mutex);
  if ((word_.fetch_or(kSlow, std::memory_order_acq_rel) & kReady) != 0) return true;
  return s.cv.wait_for(lock, timeout, [&] { return ready(); });
}

void StateBase::drop_turn() noexcept {
  if (AnsweringTurn* turn = turn_.exchange(nullptr, std::memory_order_acquire)) turn->release();
}

void StateBase::on_ready(std::function<void()> callback) {
  {
    Slow& s = slow();
    std::lock_guard lock(s.mutex);
    if ((word_.fetch_or(kSlow, std::memory_order_acq_rel) & kReady) == 0) {
      s.callbacks.push_back(std::move(callback));
      return;
    }
  }
  run_callback(callback);
}

void StateBase::on_ready(Waker* waker) {
  const auto bits = reinterpret_cast<std::uintptr_t>(waker);
  std::uintptr_t word = word_.load(std::memory_order_acquire);
  while ((word & (kReady | kWakerBits)) == 0) {
    if (word_.compare_exchange_weak(word, word | bits, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return;  // the completer runs it
    }
  }
  if ((word & kReady) != 0) {
    waker->run(waker->arg);
    return;
  }
  // A second coroutine awaits the same state (rare): an ordinary callback, which drops
  // the waker if it is destroyed without running.
  struct Once {
    explicit Once(Waker* w) : waker(w) {}
    Once(const Once&) = delete;
    ~Once() {
      if (waker != nullptr) waker->drop(waker->arg);
    }
    Waker* waker;
  };
  auto once = std::make_shared<Once>(waker);
  on_ready([once] {
    Waker* w = std::exchange(once->waker, nullptr);
    w->run(w->arg);
  });
}

bool StateBase::set_exception(std::exception_ptr error) {
  return complete([&] { error_ = std::move(error); });
}

void StateBase::publish() noexcept {
  // Without waiters or callbacks, readiness is one compare-exchange and nothing here is
  // touched after it: whoever sees the state ready may free it at once. With them, the
  // state is pinned first (they are woken below, and one of them may drop the last
  // reference as soon as it sees the result).
  bool pinned = false;
  std::uintptr_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    if ((word & kSlow) != 0 && !pinned) {
      retain();
      pinned = true;
    }
    if (word_.compare_exchange_weak(word, word | kReady, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      break;
    }
  }
  Waker* waker = reinterpret_cast<Waker*>(word & kWakerBits);
  if ((word & kSlow) == 0) {  // (kSlow is never cleared: not pinned here)
    if (waker != nullptr) waker->run(waker->arg);
    return;
  }
  Slow* s = slow_.load(std::memory_order_acquire);
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(s->mutex);
    callbacks = std::move(s->callbacks);
    s->cv.notify_all();
  }
  if (waker != nullptr) waker->run(waker->arg);
  for (auto& callback : callbacks) run_callback(callback);
  release();
}

[[noreturn]] void throw_timeout(std::chrono::nanoseconds waited) {
  auto ms = std::chrono::duration_cast<std::chrono::duration<double, std::milli>>(waited);
  throw TimeoutError(fmt::format("no result within {:.1f} ms", ms.count()));
}

}  // namespace troupe::detail

namespace troupe {
std::uint64_t future_callback_errors() noexcept {
  return detail::callback_errors_total.load(std::memory_order_relaxed);
}
}  // namespace troupe
