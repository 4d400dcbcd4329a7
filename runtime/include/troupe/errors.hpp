// troupe/errors.hpp - the exceptions troupe reports through futures and throws on misuse.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

#include "troupe/export.hpp"

namespace troupe {

/// Base of every error troupe reports at run time. Catch this to handle any of them.
/// (Misuse that is a bug in the caller derives from std::logic_error instead: EmptyHandle.)
class TROUPE_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A `Future::get(timeout)` (or an ask) did not complete in time.
class TROUPE_API TimeoutError : public Error {
 public:
  using Error::Error;
};

/// The target actor was stopped or failed before it could handle the message.
/// Pending asks of a stopped actor fail with this; `what()` names the actor and why.
class TROUPE_API ActorStopped : public Error {
 public:
  using Error::Error;
};

/// A wait was cancelled because the thing waited on went away (system actors at shutdown).
class TROUPE_API Cancelled : public Error {
 public:
  using Error::Error;
};

/// A bounded mailbox refused (or dropped) the message: the actor is not keeping up.
class TROUPE_API MailboxFull : public Error {
 public:
  using Error::Error;
};

/// The side that should have answered a future went away without answering.
class TROUPE_API BrokenPromise : public Error {
 public:
  using Error::Error;
};

/// A blocking wait was called on a worker thread, where it would stall the pool.
/// Inside an actor, `co_await` the future (or use `then`) instead.
class TROUPE_API WouldDeadlock : public Error {
 public:
  using Error::Error;
};

/// Thrown by a handler to refuse one request without failing: the ask gets this error, and
/// the actor carries on with its state intact, the supervision policy not involved.
///
///   int on(const Withdraw& w) {
///     if (w.amount > balance_) throw troupe::Refused("insufficient funds");
///     return balance_ -= w.amount;
///   }
///
/// For real faults let any other exception escape: that fails the actor. A refusal from a
/// tell handler reaches nobody (nobody asked); `stats().refusals` counts every one.
class TROUPE_API Refused : public Error {
 public:
  using Error::Error;
};

/// The system is shutting down (or has shut down) and refuses new work.
class TROUPE_API ShutdownError : public Error {
 public:
  using Error::Error;
};

/// A call on an empty handle: a default-constructed or moved-from Ref or Future. A bug in
/// the calling code, so it derives from std::logic_error (as std::future_error does for a
/// future without a state) rather than from Error: it is thrown at the call, at once, and
/// never travels through a future.
class TROUPE_API EmptyHandle : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
/// Throws EmptyHandle naming `call` ("Ref::tell").
[[noreturn, gnu::cold]] inline void throw_empty(const char* call) {
  throw EmptyHandle(std::string(call) +
                    " called on an empty handle (default-constructed or moved from)");
}
}  // namespace detail

/// How many things the runtime had to drop because memory ran out: a Down for a watcher,
/// a failure's reason (the actor still counts as failed), a log line, a permit's release.
/// Each was also reported on stderr. Zero in a healthy process. Thread-safe.
TROUPE_API std::uint64_t losses() noexcept;

/// A readable one-line description of any exception_ptr (for logs and `Down`).
/// Returns "none" for a null pointer. Never throws.
TROUPE_API std::string describe(const std::exception_ptr& error) noexcept;

namespace detail {
/// Describes `error` now, on this thread, and keeps the text for describe() on this thread
/// until forget_description(): a failing handler's error is described before its ask is
/// answered with it, so the actor's failure report never reads an exception that the
/// asker (on another thread) may already be done with and freeing.
TROUPE_API void describe_ahead(const std::exception_ptr& error) noexcept;
TROUPE_API void forget_description() noexcept;
}  // namespace detail

}  // namespace troupe
