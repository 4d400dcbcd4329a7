// remote/src/node.cpp - troupe::Node, the public face of a NodeCore (internal/node_core.hpp
// maps the engine's parts to their files): checks the options, starts the core, reads its
// counters.
#include "troupe/remote/node.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"
#include "troupe/probe.hpp"
#include "troupe/system.hpp"

namespace troupe {

using detail::remote::NodeCore;
using detail::remote::ProxyActor;

Node::Node(System& system, NodeOptions options) {
  if (options.name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    std::string h = host;
    std::replace(h.begin(), h.end(), '.', '-');
    options.name = h + "-" + std::to_string(getpid());
  }
  if (!detail::remote::valid_token(options.name) || !detail::remote::valid_token(options.cluster)) {
    throw std::invalid_argument(
        "troupe: Node: the node and cluster names must be non-empty and "
        "contain no dots, spaces or wildcards");
  }
  if (options.urls.empty()) throw std::invalid_argument("troupe: Node: no NATS urls");
  if (options.heartbeat <= std::chrono::milliseconds::zero() ||
      options.down_after <= options.heartbeat) {
    throw std::invalid_argument("troupe: Node: need 0 < heartbeat < down_after");
  }
  if (options.outbound_max_messages == 0 || options.outbound_max_bytes == 0) {
    throw std::invalid_argument("troupe: Node: outbound bounds must be > 0");
  }
  if (options.names_replicas < 1) {
    throw std::invalid_argument("troupe: Node: names_replicas must be >= 1");
  }
  if (options.outbound_overflow == Overflow::block) {
    throw std::invalid_argument(
        "troupe: Node: outbound_overflow = block is not supported (a "
        "send must never block a worker): use reject or drop_oldest");
  }
  auto core = std::make_shared<NodeCore>(system, std::move(options));
  core->name = core->options.name;
  core->prefix = "troupe." + core->options.cluster;
  core->incarnation = detail::remote::fresh_incarnation();
  core->proxy = system.spawn<ProxyActor>(
      SpawnOptions{
          .name = "troupe.node." + core->name + "#" + detail::remote::hex(core->incarnation),
          .daemon = true,
          // Bounded like the NATS subscription: a node that cannot keep up drops
          // (counted in stats().slow_drops); control messages go urgent, never refused.
          .mailbox_capacity = static_cast<std::size_t>(core->options.inbound_max_messages),
          .overflow = Overflow::reject},
      core);
  try {
    core->start();
  } catch (...) {
    core->proxy.stop();
    throw;
  }
  core_ = std::move(core);
  // Per-peer counters wherever the system's metrics are read (troupe-observer's /metrics),
  // through the core's registry of sources: neither library links the other.
  std::weak_ptr<detail::remote::NodeCore> weak = core_;
  core_->metrics_source = probe::add_metrics_source(system, [weak](std::vector<probe::Metric>& out) {
    auto c = weak.lock();
    if (c == nullptr) return;
    std::lock_guard lock(c->mu);
    // The failure detector's settings, for the page's "suspected" (a peer heard from more
    // than two heartbeats ago, not yet down).
    auto seconds = [](std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); };
    out.push_back({"troupe_remote_heartbeat_period_seconds", "How often a node says it is alive.",
                   false, {{"node", c->name}}, seconds(c->options.heartbeat)});
    out.push_back({"troupe_remote_down_after_seconds",
                   "A peer not heard from for this long is declared down.", false,
                   {{"node", c->name}}, seconds(c->options.down_after)});
    for (auto& [n, p] : c->peers) {
      if (n == "*") continue;
      const std::string& peer = n;  // clang 14 captures no structured binding
      auto add = [&](const char* name, const char* help, bool counter, double value) {
        out.push_back({name, help, counter, {{"node", c->name}, {"peer", peer}}, value});
      };
      add("troupe_remote_sent_total", "Frames handed to NATS for a peer node.", true,
          static_cast<double>(p->sent));
      add("troupe_remote_received_total", "Frames from a peer node delivered.", true,
          static_cast<double>(p->received));
      add("troupe_remote_dropped_total", "Frames from a peer node dropped (fenced, refused).",
          true, static_cast<double>(p->dropped));
      add("troupe_remote_dead_letters_total", "Sends to a peer node that never left.", true,
          static_cast<double>(p->dead_letters));
      add("troupe_remote_queued", "Frames in a peer node's outbound queue.", false,
          static_cast<double>(p->queue.size()));
      add("troupe_remote_heartbeat_age_seconds", "Seconds since a peer node was last heard.",
          false, std::chrono::duration<double>(std::chrono::steady_clock::now() - p->last_seen).count());
      add("troupe_remote_peer_up", "1 while a peer node is up, 0 once declared down.", false,
          p->up ? 1 : 0);
      out.back().labels.emplace_back("incarnation", detail::remote::hex(p->incarnation));
    }
  });
}

Node::~Node() {
  probe::remove_metrics_source(core_->system, core_->metrics_source);
  core_->shutdown();
}

void Node::unpublish(const std::string& name) { core_->unpublish(name); }

const std::string& Node::name() const noexcept { return core_->name; }
std::uint64_t Node::incarnation() const noexcept { return core_->incarnation.load(); }
std::string Node::subject() const {
  return core_->data_subject(core_->name, core_->incarnation.load());
}
bool Node::connected() const noexcept { return core_->connected.load(); }
bool Node::names_agreed() const noexcept { return core_->names_agreed; }

NodeStats Node::stats() const {
  NodeStats s;
  s.sent = core_->sent.load();
  s.received = core_->received.load();
  s.dropped = core_->dropped.load();
  s.dead_letters = core_->dead_letters.load();
  s.malformed = core_->malformed.load();
  s.unknown = core_->unknown.load();
  s.asks_failed = core_->asks_failed.load();
  s.disconnects = core_->disconnects.load();
  s.incarnation = core_->incarnation.load();
  s.fenced = core_->fenced.load();
  std::lock_guard lock(core_->mu);
  std::int64_t d = core_->retired_drops;
  if (core_->data_sub && !core_->closing) {
    std::int64_t now = 0;
    natsSubscription_GetDropped(core_->data_sub, &now);
    d += now;
  }
  s.slow_drops = static_cast<std::uint64_t>(d) + core_->proxy_drops.load();
  return s;
}

std::vector<PeerStats> Node::peers() const {
  std::vector<PeerStats> out;
  std::lock_guard lock(core_->mu);
  for (auto& [n, p] : core_->peers) {
    if (n == "*") continue;
    out.push_back(PeerStats{n, p->incarnation, p->up, p->sent, p->received, p->dropped,
                            p->dead_letters, p->queue.size()});
  }
  return out;
}

}  // namespace troupe
