// troupe/observer.hpp - Observer: a running system seen over HTTP (library troupe-observer).
//
//   troupe::System system;
//   troupe::Observer observer(system, {.port = 9100});   // "troupe: observing at http://..."
//   // open http://127.0.0.1:9100/ in a browser; Prometheus scrapes /metrics
//
// Without a code change: TROUPE_OBSERVE=127.0.0.1:9100 ./app (or `:0` for any free port)
// makes every System of the program load this library and attach an Observer.
//
// Endpoints: `/` (the live page), `/metrics` (Prometheus text format 0.0.4),
// `/actors.json` (?limit=&offset=&sort=&order=&q=&parent=), `/stats.json`,
// `/trace?seconds=N` (N seconds of a Chrome trace, 1-60; one recording at a time).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "troupe/export.hpp"

namespace troupe {

class System;

/// How an Observer serves.
struct ObserverOptions {
  /// TCP port; 0 picks a free one (see Observer::port()).
  int port = 0;
  /// Address to listen on. Loopback by default: anything else exposes the system's names
  /// and counters to whoever can reach the port, so set a token with it.
  std::string bind = "127.0.0.1";
  /// If not empty, every request needs `Authorization: Bearer <token>` or `?token=<token>`;
  /// others get 401.
  std::string token{};
  /// At most this many actors get a `troupe_mailbox_depth{actor="..."}` series of their own
  /// (the deepest mailboxes); the rest are summed into `actor="other"`.
  std::size_t max_actor_series = 20;
  /// Print "troupe: observing <system> at http://..." on stderr once serving.
  bool announce = true;
};

/// An HTTP endpoint showing one System: metrics, JSON snapshots and a live page. It serves
/// on a thread of its own with one libevent loop, asynchronously: a slow or stuck client
/// costs a socket and a buffer, never a worker or another client's answer. Snapshots are
/// taken only when a request asks for one; with no client the observer costs nothing.
/// Must be destroyed before the System it observes.
class TROUPE_API Observer {
 public:
  /// Binds and starts serving. Throws std::runtime_error if the address cannot be bound
  /// (the message names it), std::invalid_argument for a port outside 0-65535.
  explicit Observer(System& system, ObserverOptions options = {});
  /// Stops serving and closes every connection. Blocks until the HTTP thread ended.
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  /// The port served (the one picked when options.port was 0).
  int port() const noexcept;
  /// "http://<bind>:<port>", the page's address.
  std::string url() const;

  struct State;  // the implementation (observer/src/)

 private:
  std::unique_ptr<State> state_;
};

}  // namespace troupe
