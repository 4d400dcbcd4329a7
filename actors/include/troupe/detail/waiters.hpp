// troupe/detail/waiters.hpp - what the system actors share. Not public API.
//
// A system actor (Event, Semaphore, WorkQueue) answers through promises it keeps until the
// answer is known. `Reply` makes sure each of them resolves: answered, failed, or, when the
// reply is dropped unanswered (the actor ended, or the request became a dead letter),
// failed with Cancelled. `Anchor` stops the actor once the last handle to it is gone.
#pragma once

#include <chrono>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "troupe/clock.hpp"
#include "troupe/errors.hpp"
#include "troupe/future.hpp"
#include "troupe/ref.hpp"

namespace troupe {
class Actor;
}

namespace troupe::detail {

/// Timeouts this long or longer mean "no timeout": no timer is made. Covers
/// Clock::duration::max() and anything too far away to be added to a clock's now().
inline constexpr Clock::duration kNoTimeout = std::chrono::hours(24 * 365 * 100);

/// True if `timeout` needs a timer.
constexpr bool has_timeout(Clock::duration timeout) noexcept { return timeout < kNoTimeout; }

/// "250 ms", "1.5 s", "forever": a duration for error messages.
TROUPE_API std::string describe_duration(Clock::duration d);

/// "event 'ready'", or "an unnamed event" when `name` is empty.
TROUPE_API std::string label(std::string_view kind, std::string_view name);

/// An exception_ptr to `Error(what)`; to an allocation failure if even that fails. Never throws.
template <class Error>
std::exception_ptr make_error(std::string what) noexcept {
  try {
    return std::make_exception_ptr(Error(std::move(what)));
  } catch (...) {
    return std::current_exception();
  }
}

/// The promise behind one pending request. Move-only. Answer it, fail it, or drop it: a
/// dropped, unanswered Reply fails its future with Cancelled(`on_drop`), so no future of a
/// system actor is ever left hanging. Not thread-safe: owned by one actor or one message.
template <class R>
class Reply {
 public:
  /// `on_drop` must outlive the Reply (a string literal).
  Reply(Promise<R> promise, const char* on_drop) noexcept
      : promise_(std::move(promise)), on_drop_(on_drop), pending_(true) {}
  Reply(Reply&& other) noexcept
      : promise_(std::move(other.promise_)),
        on_drop_(other.on_drop_),
        pending_(std::exchange(other.pending_, false)) {}
  Reply& operator=(Reply&& other) noexcept {
    if (this != &other) {
      drop();
      promise_ = std::move(other.promise_);
      on_drop_ = other.on_drop_;
      pending_ = std::exchange(other.pending_, false);
    }
    return *this;
  }
  ~Reply() { drop(); }

  /// True until answered, failed or moved from.
  bool pending() const noexcept { return pending_; }

  /// Completes the future with a value (once; later calls do nothing).
  template <class... V>
  void answer(V&&... v) {
    if (std::exchange(pending_, false)) promise_.set_value(std::forward<V>(v)...);
  }
  /// Completes the future with an error (once; later calls do nothing).
  void fail(std::exception_ptr error) noexcept {
    if (std::exchange(pending_, false)) promise_.set_exception(std::move(error));
  }

 private:
  void drop() noexcept {
    if (pending_) fail(make_error<Cancelled>(on_drop_));
  }

  Promise<R> promise_;
  const char* on_drop_;
  bool pending_;
};

/// Held by every copy of a system actor's handle; when the last copy goes, the actor is
/// stopped after the messages already sent to it. Thread-safe.
class TROUPE_API Anchor {
 public:
  explicit Anchor(Ref<Actor> actor) noexcept : actor_(std::move(actor)) {}
  Anchor(const Anchor&) = delete;
  Anchor& operator=(const Anchor&) = delete;
  ~Anchor();

 private:
  Ref<Actor> actor_;
};

/// Nothing more to keep.
struct NoData {};

/// What every copy of a system actor's handle (Event, Semaphore, WorkQueue) shares: the
/// actor, whatever else the handles share (`State`: Event's flag), and the Anchor that stops
/// the actor once the last copy goes. Handles hold a shared_ptr to it. Thread-safe.
template <class A, class State = NoData>
struct Shared {
  explicit Shared(Ref<A> a, State s = {})
      : actor(std::move(a)), state(std::move(s)), anchor(Ref<Actor>(actor)) {}
  Ref<A> actor;
  State state;
  Anchor anchor;
};

}  // namespace troupe::detail
