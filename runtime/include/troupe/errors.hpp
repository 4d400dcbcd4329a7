// troupe/errors.hpp - the exceptions troupe reports through futures and throws on misuse.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace troupe {

/// Base of every error troupe raises itself. Catch this to handle any of them.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A `Future::get(timeout)` (or an ask) did not complete in time.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

/// The target actor was stopped or failed before it could handle the message.
/// Pending asks of a stopped actor fail with this; `what()` names the actor and why.
class ActorStopped : public Error {
 public:
  using Error::Error;
};

/// A wait was cancelled because the thing waited on went away (system actors at shutdown).
class Cancelled : public Error {
 public:
  using Error::Error;
};

/// A bounded mailbox refused (or dropped) the message: the actor is not keeping up.
class MailboxFull : public Error {
 public:
  using Error::Error;
};

/// The side that should have answered a future went away without answering.
class BrokenPromise : public Error {
 public:
  using Error::Error;
};

/// A blocking wait was called on a worker thread, where it would stall the pool.
/// Inside an actor, `co_await` the future (or use `then`) instead.
class WouldDeadlock : public Error {
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
class Refused : public Error {
 public:
  using Error::Error;
};

/// The system is shutting down (or has shut down) and refuses new work.
class ShutdownError : public Error {
 public:
  using Error::Error;
};

/// How many things the runtime had to drop because memory ran out: a Down for a watcher,
/// a failure's reason (the actor still counts as failed), a log line, a permit's release.
/// Each was also reported on stderr. Zero in a healthy process. Thread-safe.
std::uint64_t losses() noexcept;

/// A readable one-line description of any exception_ptr (for logs and `Down`).
/// Returns "none" for a null pointer. Never throws.
std::string describe(const std::exception_ptr& error) noexcept;

}  // namespace troupe
