// troupe/actor.hpp - Actor: the base class of every actor.
//
//   struct Deposit { int amount; };
//   struct Balance {};
//   class Account : public troupe::Actor {
//    public:
//     void on(const Deposit& d) { balance_ += d.amount; }    // a tell handler
//     int on(const Balance&) { return balance_; }            // a return value answers an ask
//    private:
//     int balance_ = 0;                                      // only one thread at a time
//   };
//
// Handlers are public member functions named `on`, one per message type; they may return
// a value or a Task<R> (a coroutine). An exception escaping a handler fails the actor.
//
// Lifecycle hooks: declare any of `on_start()`, `on_stop()` and
// `on_restart(const std::exception_ptr&)` (public, like handlers) to have them called:
//   on_start    in the actor's first turn, before any message (even one its constructor
//               sent itself). It may do anything a handler may: tell, ask, spawn, timers.
//               An exception from it is a failure, handled by the supervision policy.
//   on_stop     in the actor's last turn, before its object is destroyed, whether it
//               stopped or failed. It may tell and ask (it cannot await the answers); its
//               timers are already cancelled. An exception from it is reported and makes
//               the end a failure (watchers see that reason), never the reverse.
//   on_restart  on the fresh object a restart built, with the failure's reason, before its
//               on_start. (The failed object got its on_stop first.) An exception from
//               either ends the actor, failed, as a throwing constructor does.
#pragma once

#include <concepts>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "troupe/down.hpp"
#include "troupe/export.hpp"
#include "troupe/options.hpp"
#include "troupe/ref.hpp"
#include "troupe/timer.hpp"

namespace troupe {

class Actor;
template <class F>
class FunctionActor;

/// An actor class: derives from troupe::Actor.
template <class F>
concept ActorClass = std::derived_from<F, Actor>;

namespace detail {
/// What spawn takes for a name when it comes first: anything that converts to a string_view.
template <class S>
concept SpawnName = std::convertible_to<S, std::string_view>;
}  // namespace detail

class TROUPE_API Actor {
 public:
  /// Binds to the actor being spawned. Throws std::logic_error outside System::spawn.
  Actor();
  virtual ~Actor();
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  // -- lifecycle hooks (see the top of this file): hide these to use them -----------------
  void on_start() {}
  void on_stop() {}
  void on_restart(const std::exception_ptr& reason) { (void)reason; }

 protected:
  /// A Ref to this actor (untyped: for identity, watch, Down).
  Ref<Actor> self() const noexcept { return detail::Access::ref(cell_); }
  /// A typed Ref to this actor, to send it messages: `self<Account>().tell(...)`.
  /// T must be this actor's class or one of its bases.
  template <class T>
  Ref<T> self() const noexcept {
    return detail::Access::ref<T>(cell_);
  }
  /// The system this actor lives in.
  System& system() const noexcept;
  /// This actor's spawn name ("" if unnamed).
  std::string_view name() const noexcept;

  /// Spawns a child: it is stopped when this actor ends. Call only from inside the actor.
  /// The arguments read as System::spawn's: `spawn<T>()`, `spawn<T>("name", args...)`,
  /// `spawn<T>({.daemon = true}, args...)`, `spawn<T>(args...)`, and the same three with
  /// a lambda (function actor) instead of T.
  template <ActorClass T, class... Args>
  Ref<T> spawn(SpawnOptions options, Args&&... args);
  template <ActorClass T, class... Args>
  Ref<T> spawn(Args&&... args);
  template <class F>
    requires(!ActorClass<std::remove_cvref_t<F>>)
  Ref<FunctionActor<std::decay_t<F>>> spawn(SpawnOptions options, F&& handler);
  template <class Name, class F>
    requires(detail::SpawnName<Name> && !ActorClass<std::remove_cvref_t<F>>)
  Ref<FunctionActor<std::decay_t<F>>> spawn(Name&& name, F&& handler);
  template <class F>
    requires(!ActorClass<std::remove_cvref_t<F>>)
  Ref<FunctionActor<std::decay_t<F>>> spawn(F&& handler);

  /// Ends this actor once the current handler returns; queued messages become dead
  /// letters. Call only from inside the actor.
  void stop() noexcept;

  /// Sends `message` to `target` after `delay`; usually `after(1s, self<Me>(), Tick{})`.
  /// The timer belongs to this actor: it is cancelled when the actor stops or restarts.
  /// Nothing fires early. Call only from inside the actor.
  template <class T, class M>
    requires Handles<T, M>
  Timer after(Clock::duration delay, const Ref<T>& target, M&& message) {
    return detail::make_timer(cell_->core(), cell_, delay, Clock::duration::zero(), target,
                              std::forward<M>(message));
  }
  /// Sends `message` to `target` every `period` (first after one period) until cancelled
  /// or this actor stops. Missed periods are skipped, not bunched. Call only from inside.
  template <class T, class M>
    requires Handles<T, M>
  Timer every(Clock::duration period, const Ref<T>& target, M&& message) {
    if (period <= Clock::duration::zero()) throw std::invalid_argument("every: period must be > 0");
    return detail::make_timer(cell_->core(), cell_, period, period, target,
                              std::forward<M>(message));
  }

  /// Asks for a `Down` message when `other` ends (at once if it already has).
  /// Call only from inside the actor.
  template <class U>
  void watch(const Ref<U>& other) {
    watch_cell(detail::Access::cell(other));
  }

 private:
  void watch_cell(detail::Cell* other);
  detail::Cell* cell_;
};

}  // namespace troupe
