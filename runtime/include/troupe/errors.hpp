// troupe/errors.hpp - the exceptions troupe reports through futures and throws on misuse.
#pragma once

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

/// The system is shutting down (or has shut down) and refuses new work.
class ShutdownError : public Error {
 public:
  using Error::Error;
};

/// A readable one-line description of any exception_ptr (for logs and `Down`).
/// Returns "none" for a null pointer. Never throws.
std::string describe(const std::exception_ptr& error) noexcept;

}  // namespace troupe
