// troupe/remote/events.hpp - what a Node tells local actors about the cluster.
#pragma once

#include <cstdint>
#include <string>

namespace troupe {

/// Delivered once to an actor that watched a remote actor (Node::watch) when it stopped,
/// failed, or its node was declared down. Handle it with `void on(const troupe::RemoteDown&)`.
struct RemoteDown {
  std::string node;             ///< the node the actor lived on
  std::uint64_t incarnation{};  ///< that node's incarnation
  std::string actor;            ///< the published name that was watched
  bool node_down = false;       ///< true: the whole node was declared down
  std::string reason;           ///< "stopped", the failure's message, or why the node is down
};

/// A node (incarnation) joined the cluster: its first heartbeat was heard.
struct MemberUp {
  std::string node;
  std::uint64_t incarnation{};
};

/// A node (incarnation) was declared down: silent for `down_after`, left, or replaced by a
/// newer incarnation of the same name. It never comes back under this incarnation.
struct MemberDown {
  std::string node;
  std::uint64_t incarnation{};
  std::string reason;
};

/// Delivered to member subscribers on the node that was fenced: the cluster declared this
/// node's incarnation `old_incarnation` down (it was frozen or cut off), so it rejoined as
/// `new_incarnation`. Its names were dropped and its pending asks failed.
struct Fenced {
  std::uint64_t old_incarnation{};
  std::uint64_t new_incarnation{};
};

}  // namespace troupe
