// troupe/semaphore.hpp - Semaphore: N permits handed out in FIFO order, returned by RAII.
//
//   troupe::Semaphore pool(system, 3, {.name = "db"});
//   troupe::Task<void> on(const Query& q) {
//     troupe::Permit permit = co_await pool.acquire(5s);   // waits without blocking a worker
//     ...                                                   // at most 3 actors in here
//   }                                                       // the permit goes back here
//
// Like Python's Semaphore / BoundedSemaphore, and beyond it: waiters are served strictly in
// arrival order, and when an actor that holds permits ends (stopped or failed), its permits
// come back on their own: the semaphore watches every actor that acquires.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "troupe/clock.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/future.hpp"
#include "troupe/ref.hpp"

namespace troupe {

class System;

namespace detail {
class SemaphoreActor;
/// The handles' shared state: the actor and the anchor.
using SemaphoreShared = Shared<SemaphoreActor>;
}  // namespace detail

/// How a Semaphore is built. Aggregate: `{.bounded = true, .name = "db"}`.
struct SemaphoreOptions {
  /// A bounded semaphore refuses a manual `release()` that would take it above its initial
  /// permits (Python's BoundedSemaphore): the releaser's future fails with UsageError.
  bool bounded = false;
  /// Names the semaphore's actor; appears in error messages. Optional.
  std::string name{};
};

/// One permit of a Semaphore, held for as long as this object lives. Move-only. Releases
/// the permit when destroyed, including when a coroutine handler holding it unwinds or is
/// destroyed. Not thread-safe (one owner at a time); releasing never blocks.
class TROUPE_API Permit {
 public:
  /// An empty permit (holds nothing).
  Permit() noexcept = default;
  /// Takes over `other`'s permit; `other` is left empty.
  Permit(Permit&& other) noexcept;
  /// Releases this object's permit (if any), then takes over `other`'s.
  Permit& operator=(Permit&& other) noexcept;
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  /// Releases the permit, if this object still holds one.
  ~Permit();

  /// Gives the permit back now; the object is empty afterwards. Idempotent. Releasing a
  /// permit the semaphore already took back (its acquirer ended) does nothing.
  void release() noexcept;
  /// Keeps the permit taken without this object: it becomes empty, and the permit goes
  /// back with a manual `Semaphore::release()` (the Python style), or when the actor that
  /// acquired it ends.
  void detach() noexcept;
  /// True while this object holds a permit.
  bool held() const noexcept { return id_ != 0; }
  /// Same as held().
  explicit operator bool() const noexcept { return held(); }

 private:
  friend class detail::SemaphoreActor;
  Permit(Ref<detail::SemaphoreActor> semaphore, std::uint64_t id) noexcept;

  Ref<detail::SemaphoreActor> semaphore_;
  std::uint64_t id_ = 0;
};

/// A counting semaphore as a system actor. Copyable: copies share one semaphore. Every
/// member is thread-safe and never blocks. The actor is stopped when the last copy is gone
/// (after what was already sent to it) or when the system shuts down; pending acquires
/// fail with troupe::Cancelled then.
class TROUPE_API Semaphore {
 public:
  /// Spawns the semaphore's daemon actor with `permits` permits free. Throws ShutdownError
  /// if the system is shutting down, and std::invalid_argument if the name is taken.
  ///
  ///   troupe::Semaphore downloads(system, 3);
  ///   troupe::Semaphore pool(system, 2, {.bounded = true, .name = "pool"});
  Semaphore(System& system, unsigned permits, SemaphoreOptions options = {});
  /// The same from a signed count, checked first: a negative count (Python's ValueError)
  /// or one above `unsigned`'s range throws std::invalid_argument instead of wrapping
  /// around to billions of permits.
  ///
  ///   troupe::Semaphore s(system, -1);   // throws std::invalid_argument
  template <std::signed_integral N>
  Semaphore(System& system, N permits, SemaphoreOptions options = {})
      : Semaphore(system, checked_permits(static_cast<long long>(permits)), std::move(options)) {}

  /// A future of a Permit. Waiters are served strictly first come, first served. Fails
  /// with TimeoutError if no permit came within `timeout` (on the system clock; zero
  /// means "only if one is free now and nobody is queued"; `Clock::duration::max()` means
  /// no timeout). Called inside an actor's handler, records that actor as the holder: if
  /// it ends while holding (or still waiting), the permit comes back.
  ///
  ///   troupe::Permit p = co_await sem.acquire(1s);      // in a Task handler
  ///   troupe::Permit p = sem.acquire(1s).get(2s);       // on a plain thread
  ///   troupe::Permit p = std::move(future).get(2s);     // from a named future
  Future<Permit> acquire(Clock::duration timeout = Clock::duration::max()) const;
  /// The same for any duration type, converted without overflow: `hours::max()` or
  /// `milliseconds::max()` mean no timeout, as `Clock::duration::max()` does.
  template <class Rep, class Period>
  Future<Permit> acquire(std::chrono::duration<Rep, Period> timeout) const {
    return acquire(Clock::duration(detail::clamp_timeout(timeout)));
  }

  /// Returns one detached permit (see Permit::detach): the caller's own if it has one,
  /// otherwise the oldest. With none detached, an unbounded semaphore gains a permit (as
  /// Python's does) and a bounded one fails the future with UsageError.
  Future<void> release() const;

  /// Permits free right now (0 while anyone waits). An ask to the actor.
  Future<unsigned> available() const;
  /// Acquires waiting right now. An ask to the actor.
  Future<std::size_t> waiting() const;

 private:
  /// `permits` as unsigned; throws std::invalid_argument if it does not fit.
  static unsigned checked_permits(long long permits);

  std::shared_ptr<detail::SemaphoreShared> shared_;
};

}  // namespace troupe
