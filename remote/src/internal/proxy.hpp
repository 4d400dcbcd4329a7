// remote/src/internal/proxy.hpp - the node's proxy actor and the messages it receives.
//
// Everything NATS delivers on the bulk connection is told to this one (daemon) actor, so
// that troupe handlers never run on cnats threads and the node's inbound work (parsing,
// delivery to published actors, completing asks, Down declarations) happens one message at
// a time. Its handlers are defined where their work is: inbound.cpp, membership.cpp,
// watches.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "troupe/actor.hpp"

namespace troupe::detail::remote {

struct NodeCore;

/// Something NATS delivered on the bulk connection.
struct Inbound {
  std::string data;
  std::string subject;  // only for a "no responders" status (it names the ask)
  std::string reply;    // the asker's reply subject, if any
  bool no_responders = false;
};
/// The membership table declared a node incarnation down (heartbeat thread or a peer).
struct DeclaredDown {
  std::string node;
  std::uint64_t incarnation = 0;
  std::string reason;
};
/// The bulk connection to NATS was lost: asks in flight cannot be answered.
struct ConnectionLost {};
/// Watch a published local actor, to tell remote watchers when it ends.
struct WatchLocal {
  Ref<Actor> actor;
};

/// Receives everything NATS delivers for this node and does the node's work on it.
class ProxyActor : public Actor {
 public:
  explicit ProxyActor(std::shared_ptr<NodeCore> core) : core_(std::move(core)) {}
  void on(const Inbound& in);      // inbound.cpp
  void on(const DeclaredDown& d);  // membership.cpp
  void on(const ConnectionLost&);  // asks.cpp
  void on(const WatchLocal& w) { watch(w.actor); }
  void on(const Down& d);  // watches.cpp

 private:
  std::shared_ptr<NodeCore> core_;
};

}  // namespace troupe::detail::remote
