// remote/src/internal/wire_error.hpp - how a failed ask crosses the wire: an exception is
// classified into (kind, type, message) on the answering node and rebuilt into the typed
// error (NoSuchActor, MailboxFull, CodecError, RemoteException) on the asking node.
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace troupe::detail::remote {

/// What an error is called on the wire: kind, exception type, message.
struct WireError {
  std::string kind, type, message;
};

/// The wire form of `error` (any exception, or a value that is not one).
WireError classify(const std::exception_ptr& error);

/// The typed error a WireError names, for the asker's future.
std::exception_ptr rebuild(std::string_view kind, std::string_view type, std::string_view message);

}  // namespace troupe::detail::remote
