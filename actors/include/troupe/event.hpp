// troupe/event.hpp - Event: a flag that actors and threads wait on (Python's threading.Event).
//
//   troupe::Event ready(system, "ready");
//   bool ok = co_await ready.wait(5s);        // in a Task handler: no worker is blocked
//   bool ok = ready.wait(5s).get(6s);         // on a plain thread
//   ready.set();                              // releases every waiter; is_set() is true
//   ready.clear();                            // waits from now on wait again
//
// The flag and the waits without a timeout live in a core the handles share with a daemon
// system actor: set() releases those waiters itself, with no message in between. Waits
// with a timeout are kept by the actor, whose timers run on the system's clock (a
// ManualClock makes them exact in tests). The handle is a cheap copyable reference.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "troupe/clock.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/future.hpp"

namespace troupe {

class System;

namespace detail {
class EventActor;
struct EventCore;
/// The handles' shared state: the actor, the core (flag and waiters), the anchor.
using EventShared = Shared<EventActor, std::shared_ptr<EventCore>>;
}

/// A flag with waiters. Copyable: copies share one event. Every member is thread-safe and
/// never blocks, so it may be used from actors and from plain threads alike. The event's
/// actor is stopped when the last copy is gone (after what was already sent to it) or
/// when the system shuts down; waits still pending then fail with troupe::Cancelled.
class TROUPE_API Event {
 public:
  /// Spawns the event's daemon actor, unset. `name` (optional) names the actor and appears
  /// in error messages. Throws ShutdownError if the system is shutting down, and
  /// std::invalid_argument if the name is taken.
  ///
  ///   troupe::Event stop_event(system, "stop");
  explicit Event(System& system, std::string name = {});

  /// Sets the flag and releases every pending waiter (their futures become true). The flag
  /// is set when this returns, and so are the futures of the waits without a timeout
  /// (their coroutines resume on their own actors); waits with a timeout are released
  /// shortly after, by the event's actor.
  void set() const;
  /// Clears the flag: waits made from now on wait again. Waiters already released stay
  /// released. Never allocates.
  void clear() const noexcept;
  /// The flag. One atomic load.
  bool is_set() const noexcept;

  /// A future that becomes true once the event is set, or false once `timeout` (on the
  /// system clock) has passed without that; a timeout answers only its own waiter. Ready
  /// at once (true) if the event is set now; a timeout of zero polls the flag.
  /// `Clock::duration::max()` waits without a timeout. Fails with Cancelled if the event's
  /// actor stops first (system shutdown).
  ///
  ///   troupe::Task<void> on(const Start&) {
  ///     bool go = co_await go_.wait(10s);   // not `if (co_await ...)`: g++ 12.2 miscompiles
  ///     if (!go) co_return;                 // co_await in a condition
  ///     ...
  ///   }
  Future<bool> wait(Clock::duration timeout = Clock::duration::max()) const;
  /// The same for any duration type, converted without overflow: `hours::max()` or
  /// `milliseconds::max()` mean no timeout, as `Clock::duration::max()` does.
  template <class Rep, class Period>
  Future<bool> wait(std::chrono::duration<Rep, Period> timeout) const {
    return wait(Clock::duration(detail::clamp_timeout(timeout)));
  }

  /// How many waits are pending (for tests and monitoring). An ask to the actor.
  Future<std::size_t> waiting() const;

 private:
  std::shared_ptr<detail::EventShared> shared_;
};

}  // namespace troupe
