// troupe/remote/detail/core.hpp - the non-template entry points the typed templates of
// RemoteRef and Node call (thin templates over compiled code). Not for direct use.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "troupe/export.hpp"
#include "troupe/ref.hpp"
#include "troupe/remote/events.hpp"

namespace troupe {
class Actor;
}

namespace troupe::detail::remote {

/// The engine behind a Node (remote/src/node.cpp). Opaque; shared by the Node and every
/// RemoteRef made through it, so a RemoteRef outliving its Node sends dead letters.
struct NodeCore;

/// Where a remote actor lives: a node incarnation and a published name.
struct Target {
  std::string node;
  std::uint64_t incarnation = 0;
  std::string actor;
};

/// Completes one remote ask: with the encoded answer (error null) or with an error.
/// Called exactly once, on a thread of the node's: an answer on the NATS thread that
/// received it (so a thread waiting in get() wakes one hand-off sooner), a failure on the
/// proxy actor, the heartbeat thread or the caller's. Like any Future callback: short.
using ReplyFn = std::function<void(std::string_view body, std::exception_ptr error)>;

/// Delivers one decoded message to a published actor: a tell when `reply` is null,
/// otherwise an ask whose answer goes to *reply. Returns false if the actor refused it
/// (stopped, full mailbox). Throws if the body does not decode.
using Dispatch = std::function<bool(std::string_view body, ReplyFn* reply)>;

/// A published actor: a handle for watching it and one Dispatch per wire name it accepts.
struct Published {
  Ref<Actor> actor;
  std::unordered_map<std::string, Dispatch> by_type;
};

/// Sends a tell; false if it became a dead letter at once (peer down, outbound full).
TROUPE_API bool tell(const std::shared_ptr<NodeCore>& core, const Target& target,
                     std::string_view type, std::string body);
/// Counts a message that could not be encoded as a dead letter to `target`, with `reason`.
TROUPE_API void encode_failed(const std::shared_ptr<NodeCore>& core, const Target& target,
                              const char* reason);
/// Sends an ask; `done` is called once, whatever happens, by `deadline` at the latest
/// (zero: the node's default).
TROUPE_API void ask(const std::shared_ptr<NodeCore>& core, const Target& target,
                    std::string_view type, std::string body, std::chrono::milliseconds deadline,
                    ReplyFn done);
/// Makes `published` reachable as `name`. Throws NameTaken.
TROUPE_API void publish(NodeCore& core, std::string name, Published published);
/// Finds who publishes `name`; `done` receives a Target (error null) or the error.
TROUPE_API void lookup(const std::shared_ptr<NodeCore>& core, std::string name,
                       std::chrono::milliseconds deadline,
                       std::function<void(Target, std::exception_ptr)> done);
/// Calls `notify` once when the target actor stops or its node goes down.
TROUPE_API void watch(NodeCore& core, const Target& target,
                      std::function<void(const RemoteDown&)> notify);
/// Subscribers to membership events: each event is passed to every subscriber.
struct MemberSink {
  std::function<void(const MemberUp&)> up;
  std::function<void(const MemberDown&)> down;
  std::function<void(const Fenced&)> fenced;
};
TROUPE_API void subscribe_members(NodeCore& core, MemberSink sink);

}  // namespace troupe::detail::remote
