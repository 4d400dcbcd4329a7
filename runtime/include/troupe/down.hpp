// troupe/down.hpp - Down: the message a watcher gets when a watched actor ends.
#pragma once

#include <exception>
#include <string>

#include "troupe/ref.hpp"

namespace troupe {

class Actor;

/// Delivered to an actor that called `watch(ref)` once `ref`'s actor has stopped or failed.
/// Handle it with `void on(const troupe::Down&)`; without such a handler it is ignored.
struct Down {
  Ref<Actor> actor;          ///< who ended (compare with the Ref you watched)
  std::string name;          ///< its display name
  std::exception_ptr reason; ///< what it failed with; null if it stopped normally

  /// True if the actor failed (an exception escaped a handler).
  bool failed() const noexcept { return reason != nullptr; }
  /// "stopped" or the failure's message.
  std::string reason_text() const { return reason ? describe(reason) : "stopped"; }
};

}  // namespace troupe
