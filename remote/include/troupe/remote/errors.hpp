// troupe/remote/errors.hpp - the typed errors of remote sends, asks and nodes.
#pragma once

#include <string>

#include "troupe/errors.hpp"

namespace troupe {

/// Base of the errors that only remote operations report.
class TROUPE_API RemoteError : public Error {
 public:
  using Error::Error;
};

/// A remote ask's deadline passed without an answer. A TimeoutError, so code that catches
/// local timeouts catches these too.
class TROUPE_API RemoteTimeout : public TimeoutError {
 public:
  using TimeoutError::TimeoutError;
};

/// The target's node is down, unreachable, was fenced, or this node lost its connection
/// to NATS while the ask was in flight.
class TROUPE_API NodeDown : public RemoteError {
 public:
  using RemoteError::RemoteError;
};

/// No live actor is published under that name (lookup), or it stopped before answering.
class TROUPE_API NoSuchActor : public RemoteError {
 public:
  using RemoteError::RemoteError;
};

/// The remote handler threw: carries the exception's type name and message across.
class TROUPE_API RemoteException : public RemoteError {
 public:
  RemoteException(std::string type_name, std::string message)
      : RemoteError(type_name + ": " + message),
        type_name_(std::move(type_name)),
        message_(std::move(message)) {}
  /// The demangled C++ type of the exception the handler threw ("std::invalid_argument").
  const std::string& type_name() const noexcept { return type_name_; }
  /// Its what().
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

/// Node::publish: the name is held by a live actor elsewhere in the cluster.
class TROUPE_API NameTaken : public RemoteError {
 public:
  using RemoteError::RemoteError;
};

/// A Node could not join: NATS unreachable, credentials refused, TLS files unusable.
class TROUPE_API ConnectError : public RemoteError {
 public:
  using RemoteError::RemoteError;
};

/// A message or an answer could not be encoded or decoded (a codec mismatch between nodes).
class TROUPE_API CodecError : public RemoteError {
 public:
  using RemoteError::RemoteError;
};

}  // namespace troupe
