// troupe/detail/state.hpp - the shared state behind a Future/Promise pair. Not public API.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/detail/pool.hpp"
#include "troupe/export.hpp"

namespace troupe::detail {

/// Stands in for `void` where a value must be stored.
struct Unit {};

template <class R>
using Stored = std::conditional_t<std::is_void_v<R>, Unit, R>;

/// True where a blocking wait would stall actors, and is refused: on a worker of a System's
/// pool, and on any thread while it runs an actor's turn outside the pool (a deterministic
/// system's test thread inside run_once, an asker running its answer's turn).
TROUPE_API bool must_not_block() noexcept;

/// Reports an exception that escaped a Future callback (stderr, at most five lines a
/// second) and counts it. Thread-safe, never throws.
void report_callback_error(const std::exception_ptr& error) noexcept;

/// The error a Promise dropped unanswered gives its future: BrokenPromise, or, while an
/// AbandonScope is open on this thread, that scope's reason. Never throws (out of memory,
/// it returns the bad_alloc).
TROUPE_API std::exception_ptr abandoned_error() noexcept;

/// Makes promises dropped on this thread meanwhile fail with `why` instead of
/// BrokenPromise: an actor that ends destroys its suspended coroutines, and their asks
/// learn that the actor stopped (ActorStopped), not that someone forgot to answer.
class AbandonScope {
 public:
  explicit AbandonScope(std::exception_ptr why) noexcept;
  ~AbandonScope();
  AbandonScope(const AbandonScope&) = delete;
  AbandonScope& operator=(const AbandonScope&) = delete;

 private:
  std::exception_ptr saved_;
};

/// Work a thread can do itself while it waits for a future that nothing else would
/// complete: a deterministic System has no threads, so the thread that made it drives it.
class WaitDriver {
 public:
  /// Runs one step (an actor's turn); false if there was nothing to run.
  virtual bool step() noexcept = 0;

 protected:
  ~WaitDriver() = default;
};
/// Lets untimed waits on the calling thread drive `driver` (see StateBase::wait) until
/// remove_wait_driver. Thread-safe.
void add_wait_driver(WaitDriver* driver);
void remove_wait_driver(WaitDriver* driver) noexcept;

/// The scheduled turn that will answer an ask, which the thread waiting for the answer may
/// run itself instead of sleeping until a worker does (runtime/src/handoff.cpp).
class AnsweringTurn {
 public:
  /// Runs the turn on this thread, unless a worker already started it; then lets go.
  virtual void run_here() noexcept = 0;
  /// Lets go without running it.
  virtual void release() noexcept = 0;

 protected:
  ~AnsweringTurn() = default;
};

/// Untyped part of a future's state: readiness, the error, waiting and callbacks.
/// Compiled once in future.cpp; the typed State<R> only adds the value.
class TROUPE_API StateBase {
 public:
  StateBase() = default;
  ~StateBase() {
    if (turn_.load(std::memory_order_relaxed) != nullptr) drop_turn();
    if (waker_.arg != nullptr) waker_.drop(waker_.arg);  // never completed
  }
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  /// Blocks until ready. Throws WouldDeadlock on a worker thread. If the turn that answers
  /// was offered (offer_turn) and no worker has started it, runs it on this thread.
  /// On a thread that made a deterministic System, runs that system's actors until the
  /// state is ready, and throws WouldDeadlock if they run out of work first.
  void wait();
  /// Blocks until ready or `timeout`; returns readiness. Throws WouldDeadlock on a worker.
  /// Never runs actors (a deterministic test decides every step; only an untimed wait,
  /// which would otherwise hang forever, drives).
  bool wait_for(std::chrono::nanoseconds timeout);
  /// Runs `callback` once the state is ready: now, on this thread, if it already is;
  /// otherwise on the thread that completes it. An exception escaping a callback is
  /// reported (report_callback_error) and stops there: the other callbacks still run, and
  /// neither the completer nor the caller of on_ready sees it.
  void on_ready(std::function<void()> callback);
  /// A callback that costs no allocation, for the runtime's own use (resuming a
  /// coroutine): `run(arg)` once ready (now, if it is), exactly once, or `drop(arg)` if the
  /// state ends without completing. Neither may throw.
  struct Waker {
    void (*run)(void*) noexcept = nullptr;
    void (*drop)(void*) noexcept = nullptr;
    void* arg = nullptr;
  };
  void on_ready(Waker waker);
  /// Completes with an error. Returns false (and does nothing) if already completed.
  bool set_exception(std::exception_ptr error);
  /// The error, once ready; null on success.
  const std::exception_ptr& error() const noexcept { return error_; }
  /// Runtime use: the turn that will answer, queued for the pool, which an untimed wait may
  /// run itself. Set once, by the ask that scheduled it.
  void offer_turn(AnsweringTurn* turn) noexcept { turn_.store(turn, std::memory_order_release); }

 protected:
  /// Completes the state; `store` writes the value under the lock.
  template <class Store>
  bool complete(Store&& store) {
    std::unique_lock lock(mutex_);
    if (ready_.load(std::memory_order_relaxed)) return false;
    store();
    return finish(lock);
  }

 private:
  bool finish(std::unique_lock<std::mutex>& lock);
  /// What drive() found: this thread drives nothing, the state is ready, or this thread's
  /// drivers ran out of work with the state still pending.
  enum class Driven { nothing, ready, stalled };
  /// Steps this thread's wait drivers until the state is ready or they have nothing to run.
  Driven drive();
  void drop_turn() noexcept;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> ready_{false};
  std::exception_ptr error_;
  Waker waker_;                     // the first Waker (a coroutine awaiting this state)
  std::function<void()> callback_;  // the first callback (most states have one at most)
  std::vector<std::function<void()>> more_callbacks_;  // the others, in order
  std::atomic<AnsweringTurn*> turn_{nullptr};
  friend class StateAccess;
};

/// Allocates shared states (and their control blocks) from the pool: a future is made and
/// dropped per ask.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
  // The pool aligns to 16 at most (see pool.hpp); anything stricter goes elsewhere.
  T* allocate(std::size_t n) {
    if constexpr (alignof(T) > 16) {
      return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(alignof(T))));
    } else {
      return static_cast<T*>(pool_allocate(n * sizeof(T)));
    }
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if constexpr (alignof(T) > 16) {
      ::operator delete(p, std::align_val_t(alignof(T)));
    } else {
      pool_free(p, n * sizeof(T));
    }
  }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

template <class R>
class State final : public StateBase {
 public:
  template <class... V>
  bool set_value(V&&... v) {
    return complete([&] { value_.emplace(std::forward<V>(v)...); });
  }
  /// The value; call only when ready() and error() is null.
  Stored<R>& value() noexcept { return *value_; }

 private:
  std::optional<Stored<R>> value_;
};

}  // namespace troupe::detail
