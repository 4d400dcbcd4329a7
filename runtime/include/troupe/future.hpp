// troupe/future.hpp - Future<R> and Promise<R>: a result that arrives later.
//
//   troupe::Future<int> f = account.ask(Balance{});
//   int b = f.get(std::chrono::seconds(1));   // plain threads: block, with a deadline
//   int c = co_await f;                       // inside a Task handler: never blocks a worker
//   f.then([](int v) { fmt::print("{}\n", v); });
#pragma once

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "troupe/detail/state.hpp"
#include "troupe/errors.hpp"
#include "troupe/fwd.hpp"

namespace troupe {

template <class R>
class Future;
template <class T>
class Ref;

/// How many exceptions escaped Future callbacks (`on_ready`) in this process. Each was
/// reported on stderr and went no further. Thread-safe.
TROUPE_API std::uint64_t future_callback_errors() noexcept;

namespace detail {
/// Arranges for `handle` to resume once `state` is ready: on the actor that was running
/// when it suspended (through its mailbox), or inline outside actors. `root` is the
/// outermost coroutine frame, destroyed if that actor stops first. (runtime/src/suspension.cpp)
TROUPE_API void resume_when_ready(StateBase& state, std::coroutine_handle<> handle,
                                  std::coroutine_handle<> root);
[[noreturn]] TROUPE_API void throw_timeout(std::chrono::nanoseconds waited);
/// For `co_await` on a ready future: true, but false once in every kAwaitBudget such awaits
/// within one actor turn (that await then suspends, and resumes as the actor's next
/// message), so that a coroutine whose futures are always ready (a producer putting into an
/// unbounded WorkQueue) still ends its turn within the batch and lets others run. Always
/// true outside actors. (runtime/src/turn.cpp)
TROUPE_API bool within_await_budget() noexcept;

template <class P>
std::coroutine_handle<> root_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (requires(P& p) { p.root; }) {
    return h.promise().root ? h.promise().root : std::coroutine_handle<>(h);
  } else {
    return h;
  }
}

/// `timeout` in nanoseconds, kept between zero and 100 years: a negative timeout has
/// already expired, and a longer one (`hours::max()`, `milliseconds::max()`) would
/// overflow when converted or added to a clock's now(), and come out as an immediate
/// timeout. 100 years is also what the system actors take for "no timeout".
template <class Rep, class Period>
constexpr std::chrono::nanoseconds clamp_timeout(
    std::chrono::duration<Rep, Period> timeout) noexcept {
  constexpr std::chrono::nanoseconds kLongest = std::chrono::hours(24 * 365 * 100);
  using Seconds = std::chrono::duration<double>;  // compares any duration without overflow
  if (timeout <= std::chrono::duration<Rep, Period>::zero()) return {};
  if (Seconds(timeout) >= Seconds(kLongest)) return kLongest;
  return std::chrono::ceil<std::chrono::nanoseconds>(timeout);
}
}  // namespace detail

/// The writing end of a Future. Move-only. Dropping an unfulfilled Promise fails its future
/// with BrokenPromise (ActorStopped when an ending actor drops the coroutine that held
/// it), so a future always resolves. Thread-safe: the first set wins.
template <class R>
class Promise {
 public:
  Promise() : state_(detail::State<R>::make()) {}
  /// A promise and its future, made together (what an ask makes): one reference count
  /// operation fewer than Promise() then future().
  static std::pair<Promise, Future<R>> with_future() {
    auto [a, b] = detail::State<R>::make_pair();
    return {Promise(std::move(a)), Future<R>(std::move(b))};
  }
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      break_if_unset();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~Promise() { break_if_unset(); }

  /// The future this promise completes. Call any number of times.
  Future<R> future() const { return Future<R>(state_); }

  /// Completes with a value; returns false if already completed. A waiter that wakes
  /// and drops everything (this promise's owner too) cannot free the state under the call:
  /// the state keeps itself alive while it wakes blocked waiters (detail::StateBase).
  template <class... V>
  bool set_value(V&&... v) const {
    return state_ && state_->set_value(std::forward<V>(v)...);
  }
  /// Completes with an error; returns false if already completed (or moved from).
  bool set_exception(std::exception_ptr e) const {
    return state_ && state_->set_exception(std::move(e));
  }

 private:
  explicit Promise(detail::StateRef<detail::State<R>> state) noexcept : state_(std::move(state)) {}
  void break_if_unset() noexcept {
    if (state_ && !state_->ready()) state_->set_exception(detail::abandoned_error());
  }
  detail::StateRef<detail::State<R>> state_;
};

/// A result of type R (or an error) that becomes available later.
/// Copyable (copies share one result). Thread-safe.
template <class R>
class Future {
 public:
  using value_type = R;

  Future() = default;
  explicit Future(detail::StateRef<detail::State<R>> state) : state_(std::move(state)) {}

  /// A future that is already complete with `v`.
  template <class... V>
  static Future ready_with(V&&... v) {
    return Future(detail::State<R>::make_ready(std::forward<V>(v)...));
  }
  /// A future that already failed with `e`.
  static Future failed(std::exception_ptr e) {
    Promise<R> p;
    p.set_exception(std::move(e));
    return p.future();
  }

  /// False for an empty future (default-constructed or moved from). Every other member
  /// throws EmptyHandle on one.
  bool valid() const noexcept { return state_ != nullptr; }
  /// True once a value or an error is there. Never blocks.
  bool ready() const { return state().ready(); }
  /// True once ready and failed.
  bool failed() const { return ready() && state_->error() != nullptr; }

  /// Waits for the result and returns it, or rethrows the error.
  /// Blocks: for non-actor threads only; on a worker thread it throws WouldDeadlock.
  /// Waiting for an ask a plain thread made to an idle actor, it may run the handler on
  /// this thread, if no worker has started it yet (README, "Asks from plain threads").
  decltype(auto) get() const& {
    state().wait();
    return result();
  }
  R get() && {
    state().wait();
    return take();
  }
  /// As get(), but throws TimeoutError if nothing arrives within `timeout`. Never runs a
  /// handler on this thread, so the deadline holds whatever the handler does. A negative
  /// timeout has expired (a ready future still answers); any duration, `max()` included,
  /// is safe to pass: beyond 100 years it is taken as 100 years.
  template <class Rep, class Period>
  decltype(auto) get(std::chrono::duration<Rep, Period> timeout) const& {
    auto limit = detail::clamp_timeout(timeout);
    if (!state().wait_for(limit)) detail::throw_timeout(limit);
    return result();
  }
  template <class Rep, class Period>
  R get(std::chrono::duration<Rep, Period> timeout) && {
    auto limit = detail::clamp_timeout(timeout);
    if (!state().wait_for(limit)) detail::throw_timeout(limit);
    return take();
  }
  /// Waits up to `timeout`; returns whether the future is ready. Same thread rules and
  /// timeout range as get(timeout).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return state().wait_for(detail::clamp_timeout(timeout));
  }

  /// Chains `fn` to run with the value once it arrives; returns a future of fn's result.
  /// An error skips `fn` and passes through. `fn` runs on the completing thread (or right
  /// away if ready): keep it short and thread-safe. Inside actors prefer `co_await`.
  template <class F>
  auto then(F&& fn) const {
    using U = decltype(call(fn, std::declval<const Future&>()));
    auto next = std::make_shared<Promise<U>>();  // shared: callbacks must be copyable
    Future<U> out = next->future();
    auto work = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
    state().on_ready([self = *this, work, next] {
      if (auto& e = self.state_->error()) {
        next->set_exception(e);
        return;
      }
      try {
        if constexpr (std::is_void_v<U>) {
          call(*work, self);
          next->set_value();
        } else {
          next->set_value(call(*work, self));
        }
      } catch (...) {
        next->set_exception(std::current_exception());
      }
    });
    return out;
  }

  /// Runs `fn(future)` once ready, whatever the outcome (for fan-in helpers).
  template <class F>
  void on_ready(F&& fn) const {
    auto work = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
    state().on_ready([self = *this, work] { (*work)(self); });
  }

  /// The error of a failed future (null otherwise). Call when ready().
  std::exception_ptr error() const { return state().error(); }

  // -- coroutine support -------------------------------------------------------------------

  struct Awaiter {
    detail::StateRef<detail::State<R>> state;
    /// A ready future goes on at once, but for one in every few inside one actor's turn
    /// (detail::within_await_budget): that one suspends and resumes as the actor's next
    /// message, so a coroutine whose futures are always ready still lets others run.
    bool await_ready() const noexcept { return state->ready() && detail::within_await_budget(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      detail::resume_when_ready(*state, h, detail::root_of(h));
    }
    R await_resume() { return Future(std::move(state)).take(); }
  };
  /// `co_await future` inside a Task: suspends without blocking the worker and resumes on
  /// the same actor, between its other messages. Rethrows the error.
  Awaiter operator co_await() const& {
    if (state_ == nullptr) [[unlikely]] detail::throw_empty("co_await Future");
    return Awaiter{state_};
  }
  /// `co_await ref.ask(...)`: the temporary's reference moves into the awaiter.
  Awaiter operator co_await() && {
    if (state_ == nullptr) [[unlikely]] detail::throw_empty("co_await Future");
    return Awaiter{std::move(state_)};
  }

  friend bool operator==(const Future& a, const Future& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend struct detail::Access;  // an ask hands its answering turn to the state

  detail::State<R>& state() const {
    if (state_ == nullptr) [[unlikely]] detail::throw_empty("Future");
    return *state_;
  }
  template <class F>
  static decltype(auto) call(F& fn, const Future& self) {
    if constexpr (std::is_void_v<R>) {
      return fn();
    } else {
      return fn(static_cast<const R&>(self.state_->value()));
    }
  }
  decltype(auto) result() const {
    if (state_->error()) std::rethrow_exception(state_->error());
    if constexpr (std::is_void_v<R>) {
      return;
    } else {
      return static_cast<const R&>(state_->value());
    }
  }
  R take() {
    if (state_->error()) std::rethrow_exception(state_->error());
    if constexpr (!std::is_void_v<R>) {
      // Sole owner (or a move-only R): move the value out; otherwise copy it.
      if constexpr (std::is_copy_constructible_v<R>) {
        if (state_->use_count() != 1) return R(state_->value());
      }
      return std::move(state_->value());
    }
  }

  detail::StateRef<detail::State<R>> state_;
};

}  // namespace troupe
