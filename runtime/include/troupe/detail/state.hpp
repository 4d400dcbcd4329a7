// troupe/detail/state.hpp - the shared state behind a Future/Promise pair. Not public API.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/export.hpp"

namespace troupe::detail {

/// Stands in for `void` where a value must be stored.
struct Unit {};

template <class R>
using Stored = std::conditional_t<std::is_void_v<R>, Unit, R>;

/// True on a thread of a System's worker pool (where blocking waits are refused).
TROUPE_API bool on_worker_thread() noexcept;

/// A scheduled turn that the thread waiting for its answer may run itself
/// (runtime/src/internal/handoff.hpp).
class Handoff;

/// Untyped part of a future's state: readiness, the error, waiting and callbacks.
/// Compiled once in future.cpp; the typed State<R> only adds the value.
class TROUPE_API StateBase {
 public:
  StateBase() = default;
  ~StateBase() {
    if (handoff_.load(std::memory_order_relaxed) != nullptr) drop_handoff();
  }
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  /// Blocks until ready. Throws WouldDeadlock on a worker thread. If the turn that answers
  /// was handed over (see hand_off) and no worker has started it, runs it on this thread.
  void wait();
  /// Blocks until ready or `timeout`; returns readiness. Throws WouldDeadlock on a worker.
  bool wait_for(std::chrono::nanoseconds timeout);
  /// Runs `callback` once the state is ready: now, on this thread, if it already is;
  /// otherwise on the thread that completes it.
  void on_ready(std::function<void()> callback);
  /// Completes with an error. Returns false (and does nothing) if already completed.
  bool set_exception(std::exception_ptr error);
  /// The error, once ready; null on success.
  const std::exception_ptr& error() const noexcept { return error_; }
  /// Runtime use: the turn that will answer, queued for the pool, which an untimed wait may
  /// take over. Set once, by the ask that scheduled it.
  void hand_off(Handoff* turn) noexcept { handoff_.store(turn, std::memory_order_release); }

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
  void drop_handoff() noexcept;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> ready_{false};
  std::exception_ptr error_;
  std::vector<std::function<void()>> callbacks_;
  std::atomic<Handoff*> handoff_{nullptr};
  friend class StateAccess;
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
