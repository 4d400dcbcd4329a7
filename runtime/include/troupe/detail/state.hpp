// troupe/detail/state.hpp - the shared state behind a Future/Promise pair. Not public API.
#pragma once

#include <atomic>
#include <cstdint>
#include <chrono>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

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
///
/// The common life of a state costs no lock: one coroutine awaits it (its Waker is
/// installed with one compare-exchange) and one completer claims it, stores the value and
/// publishes it (two atomic operations), running the Waker. Blocking waits and on_ready
/// callbacks use a lock and a condition variable made on first use ("slow" below).
/// Counted by hand (retain/release) rather than by shared_ptr: a completer must keep the
/// state alive while it wakes blocked waiters, and only then.
class TROUPE_API StateBase {
 public:
  using Destroy = void (*)(StateBase*) noexcept;
  explicit StateBase(Destroy destroy) noexcept : destroy_(destroy) {}
  ~StateBase() {
    if (turn_.load(std::memory_order_relaxed) != nullptr) drop_turn();
    std::uintptr_t word = word_.load(std::memory_order_acquire);
    if ((word & kReady) == 0 && (word & kWakerBits) != 0) {  // never completed
      Waker* w = reinterpret_cast<Waker*>(word & kWakerBits);
      w->drop(w->arg);
    }
    if (Slow* s = slow_.load(std::memory_order_acquire)) free_slow(s);
  }
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  /// One more reference to a state no other thread can see yet (a plain store).
  void add_unshared_ref() noexcept {
    refs_.store(refs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void release() noexcept {
    // The sole holder (most often the last, e.g. an awaiter done with its answer) needs no
    // read-modify-write: nobody else can take a reference without holding one.
    if (refs_.load(std::memory_order_acquire) == 1 ||
        refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      destroy_(this);
    }
  }
  /// How many handles share the state (exact only when the caller holds the sole one).
  std::uint32_t use_count() const noexcept { return refs_.load(std::memory_order_acquire); }

  bool ready() const noexcept { return (word_.load(std::memory_order_acquire) & kReady) != 0; }
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
  /// state ends without completing. Neither may throw. The Waker itself must stay where it
  /// is until one of them is called (it lives in the suspension it wakes).
  struct alignas(8) Waker {
    void (*run)(void*) noexcept = nullptr;
    void (*drop)(void*) noexcept = nullptr;
    void* arg = nullptr;
  };
  void on_ready(Waker* waker);
  /// Completes with an error. Returns false (and does nothing) if already completed.
  bool set_exception(std::exception_ptr error);
  /// The error, once ready; null on success.
  const std::exception_ptr& error() const noexcept { return error_; }
  /// Runtime use: the turn that will answer, queued for the pool, which an untimed wait may
  /// run itself. Set once, by the ask that scheduled it.
  void offer_turn(AnsweringTurn* turn) noexcept { turn_.store(turn, std::memory_order_release); }

 protected:
  /// Completes the state; `store` writes the value. The first completer claims the state;
  /// any other returns false at once. If `store` throws, the claim is given back.
  template <class Store>
  bool complete(Store&& store) {
    if ((word_.fetch_or(kClaimed, std::memory_order_acquire) & kClaimed) != 0) return false;
    try {
      store();
    } catch (...) {
      word_.fetch_and(~kClaimed, std::memory_order_release);
      throw;
    }
    publish();
    return true;
  }

  /// Completes a state nobody else holds yet (its value or error already stored).
  void mark_ready_unshared() noexcept {
    word_.store(kClaimed | kReady, std::memory_order_release);
  }

 private:
  // word_: a Waker pointer (8-aligned) or'ed with these flags.
  static constexpr std::uintptr_t kClaimed = 1;  // a completer is storing the result
  static constexpr std::uintptr_t kReady = 2;    // the result is there
  static constexpr std::uintptr_t kSlow = 4;     // waiters or callbacks are in slow_
  static constexpr std::uintptr_t kWakerBits = ~std::uintptr_t{7};
  struct Slow;  // mutex, condition variable, callbacks (future.cpp)

  void publish() noexcept;
  Slow& slow();
  static void free_slow(Slow* s) noexcept;
  /// What drive() found: this thread drives nothing, the state is ready, or this thread's
  /// drivers ran out of work with the state still pending.
  enum class Driven { nothing, ready, stalled };
  /// Steps this thread's wait drivers until the state is ready or they have nothing to run.
  Driven drive();
  void drop_turn() noexcept;

  std::atomic<std::uintptr_t> word_{0};
  std::atomic<std::uint32_t> refs_{1};
  Destroy destroy_;
  std::exception_ptr error_;
  std::atomic<Slow*> slow_{nullptr};
  std::atomic<AnsweringTurn*> turn_{nullptr};
};

/// A counted handle to a State<R> (what Future and Promise hold).
template <class S>
class StateRef {
 public:
  StateRef() noexcept = default;
  /// Takes over one reference already counted (a new state's first).
  explicit StateRef(S* s) noexcept : s_(s) {}
  StateRef(const StateRef& o) noexcept : s_(o.s_) {
    if (s_ != nullptr) s_->retain();
  }
  StateRef(StateRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  StateRef& operator=(StateRef o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~StateRef() {
    if (s_ != nullptr) s_->release();
  }
  S* get() const noexcept { return s_; }
  S& operator*() const noexcept { return *s_; }
  S* operator->() const noexcept { return s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }
  friend bool operator==(const StateRef& a, const StateRef& b) noexcept { return a.s_ == b.s_; }
  friend bool operator==(const StateRef& a, std::nullptr_t) noexcept { return a.s_ == nullptr; }

 private:
  S* s_ = nullptr;
};

/// Allocates blocks for shared states from the pool: a future is made and dropped per ask.
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
  /// A new state with one reference, the caller's.
  static StateRef<State> make() {
    void* block = PoolAllocator<State>{}.allocate(1);
    return StateRef<State>(::new (block) State());
  }
  /// A new state with two references, for a promise and its future (an ask makes both):
  /// counted at once rather than by a second, atomic, increment.
  static std::pair<StateRef<State>, StateRef<State>> make_pair() {
    void* block = PoolAllocator<State>{}.allocate(1);
    auto* s = ::new (block) State();
    s->add_unshared_ref();
    return {StateRef<State>(s), StateRef<State>(s)};
  }
  /// A new state, already complete with a value, made without atomic read-modify-writes
  /// (nobody else can see it yet).
  template <class... V>
  static StateRef<State> make_ready(V&&... v) {
    StateRef<State> s = make();
    s->value_.emplace(std::forward<V>(v)...);
    s->mark_ready_unshared();
    return s;
  }
  template <class... V>
  bool set_value(V&&... v) {
    return complete([&] { value_.emplace(std::forward<V>(v)...); });
  }
  /// The value; call only when ready() and error() is null.
  Stored<R>& value() noexcept { return *value_; }

 private:
  State() noexcept : StateBase(&State::destroy) {}
  static void destroy(StateBase* base) noexcept {
    auto* self = static_cast<State*>(base);
    self->~State();
    PoolAllocator<State>{}.deallocate(self, 1);
  }
  std::optional<Stored<R>> value_;
};

}  // namespace troupe::detail
