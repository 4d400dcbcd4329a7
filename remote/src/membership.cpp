// remote/src/membership.cpp - who is up: heartbeats on their own connection, failure
// detection (silent for down_after), Down declarations shared on the control subject, and
// the member events actors subscribe to.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"

namespace troupe::detail::remote {

void ProxyActor::on(const DeclaredDown& d) { core_->handle_down(d); }

void NodeCore::publish_control(const Frame& f, const std::string& subject) {
  std::string bytes = encode_frame(f);
  natsConnection_Publish(hb_conn, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()));
}

void NodeCore::check_members(SteadyClock::time_point now) {
  std::vector<std::pair<std::string, std::uint64_t>> silent;
  {
    std::lock_guard lock(mu);
    if (now - last_check > options.down_after / 2) {
      // This process was stopped (SIGSTOP, a VM pause) or starved: what it did not hear
      // meanwhile says nothing about the others. Start their clocks afresh.
      for (auto& [n, p] : peers) p->last_seen = now;
    }
    last_check = now;
    if (!connected || !hb_connected || now - reconnected_at < options.down_after) return;
    for (auto& [n, p] : peers) {
      if (p->up && now - p->last_seen > options.down_after) silent.emplace_back(n, p->incarnation);
    }
  }
  for (auto& [n, inc] : silent) {
    declare_down(
        n, inc, "silent for more than " + std::to_string(options.down_after.count()) + " ms", true);
  }
}

void NodeCore::run_heart() {
  auto tick = std::clamp(options.heartbeat / 4, std::chrono::milliseconds(1),
                         std::chrono::milliseconds(10));
  auto next_beat = SteadyClock::now();
  std::uint64_t seq = 0;
  std::unique_lock lock(mu);
  while (!closing) {
    lock.unlock();
    auto now = SteadyClock::now();
    if (fence_pending.exchange(false)) rejoin();
    if (now >= next_beat) {
      Frame f;
      f.kind = Kind::heartbeat;
      f.incarnation = incarnation.load();
      f.id = ++seq;
      f.from = name;
      publish_control(f, hb_subject());
      next_beat += options.heartbeat;
      if (next_beat < now) next_beat = now + options.heartbeat;
    }
    check_members(now);
    expire_asks(now);
    lock.lock();
    stop_cv.wait_for(lock, tick, [&] { return closing; });
  }
}

void on_heartbeat(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  Frame f;
  std::string_view bytes(natsMsg_GetData(msg),
                         static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  if (!core->closed.load()) {
    if (parse_frame(bytes, f) && f.kind == Kind::heartbeat && valid_token(f.from)) {
      try {
        core->heard(f);
      } catch (const std::exception& e) {
        core->log("heartbeat dropped: %s", e.what());
      }
    } else {
      ++core->malformed;
      core->log("malformed heartbeat dropped");
    }
  }
  natsMsg_Destroy(msg);
}

void on_control(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  Frame f;
  std::string_view bytes(natsMsg_GetData(msg),
                         static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  if (!core->closed.load()) {
    if (parse_frame(bytes, f) && f.kind == Kind::down && valid_token(f.target)) {
      try {
        if (f.target == core->name) {
          if (f.id == core->incarnation.load()) core->fence_pending = true;
        } else {
          core->declare_down(std::string(f.target), f.id, std::string(f.type), false);
        }
      } catch (const std::exception& e) {
        core->log("control frame dropped: %s", e.what());
      }
    } else {
      ++core->malformed;
      core->log("malformed control frame dropped");
    }
  }
  natsMsg_Destroy(msg);
}

void NodeCore::declare_down(const std::string& node, std::uint64_t inc, const std::string& reason,
                            bool broadcast) {
  {
    std::lock_guard lock(mu);
    if (closing || !downs.insert({node, inc}).second) return;
    Peer& p = peer_locked(node);
    if (p.incarnation == inc) p.up = false;
  }
  if (reason != kLeft) {  // a node leaving on purpose is no news
    log("node %s (incarnation %s) declared down: %s", node.c_str(), hex(inc).c_str(),
        reason.c_str());
  }
  if (broadcast) {
    Frame f;
    f.kind = Kind::down;
    f.incarnation = incarnation.load();
    f.id = inc;
    f.from = name;
    f.target = node;
    f.type = reason;
    publish_control(f, ctl_subject());
    // The node that noticed releases the names that incarnation held (later, on the name
    // table's thread; a name someone took over since is left alone).
    if (names_agreed) name_table.release_held_by_later(node, inc);
  }
  proxy.tell(DeclaredDown{node, inc, reason}, troupe::urgent);
}

void NodeCore::heard(const Frame& f) {
  std::string from(f.from);
  if (from == name) {
    if (f.incarnation != incarnation.load() && f.incarnation != previous_incarnation.load() &&
        !fence_pending.load()) {
      // Not our own echo: another live process uses this node name. Membership cannot
      // tell the two apart; say so (rate-limited) rather than flap silently.
      log("another node heartbeats under this node's name (incarnation %s): node names must "
          "be unique in a cluster",
          hex(f.incarnation).c_str());
    }
    return;
  }
  std::vector<MemberUp> ups;
  std::uint64_t replaced = 0;
  bool resend_down = false;
  {
    std::lock_guard lock(mu);
    auto now = SteadyClock::now();
    if (downs.count({from, f.incarnation}) != 0) {
      // A fenced incarnation is still talking: tell it again (rate-limited) so it rejoins.
      auto& last = down_resent[{from, f.incarnation}];
      if (now - last >= std::chrono::milliseconds(200)) {
        last = now;
        resend_down = true;
      }
    } else {
      Peer& p = peer_locked(from);
      if (p.up && p.incarnation != f.incarnation) replaced = p.incarnation;
      if (!p.up || p.incarnation != f.incarnation) {
        p.incarnation = f.incarnation;
        p.up = true;
        ups.push_back(MemberUp{from, f.incarnation});
      }
      p.last_seen = now;
    }
  }
  if (resend_down) {
    Frame d;
    d.kind = Kind::down;
    d.incarnation = incarnation.load();
    d.id = f.incarnation;
    d.from = name;
    d.target = f.from;
    d.type = "fenced: declared down earlier";
    publish_control(d, ctl_subject());
    return;
  }
  if (replaced != 0) declare_down(from, replaced, "replaced by a new incarnation", true);
  if (!ups.empty()) {
    std::vector<MemberSink> copy;
    {
      std::lock_guard lock(mu);
      copy = sinks;
    }
    for (auto& up : ups) {
      for (auto& s : copy) {
        if (s.up) s.up(up);
      }
    }
  }
}

void NodeCore::handle_down(const DeclaredDown& d) {
  // A frame of that incarnation delivered on a NATS thread that passed its fencing check
  // before the Down was recorded is queued before anyone hears of the Down (inbound.cpp).
  while (direct_in_flight.load() != 0) std::this_thread::yield();
  std::string why =
      "node " + d.node + " (incarnation " + hex(d.incarnation) + ") was declared down: " + d.reason;
  fail_all(
      [&](const Pending& p) {
        return !p.found && p.node == d.node && p.incarnation == d.incarnation;
      },
      [&](const Pending&) { return std::make_exception_ptr(NodeDown(why)); });
  std::vector<WatchEntry> fired;
  std::vector<MemberSink> copy;
  {
    std::lock_guard lock(mu);
    auto keep = std::stable_partition(watches.begin(), watches.end(), [&](const WatchEntry& w) {
      return !(w.target.node == d.node && w.target.incarnation == d.incarnation);
    });
    std::move(keep, watches.end(), std::back_inserter(fired));
    watches.erase(keep, watches.end());
    for (auto& [actor, list] : remote_watchers) {
      std::erase_if(list, [&](const RemoteWatcher& w) {
        return w.node == d.node && w.incarnation == d.incarnation;
      });
    }
    copy = sinks;
  }
  for (auto& w : fired) {
    w.notify(RemoteDown{d.node, d.incarnation, w.target.actor, true, why});
  }
  for (auto& s : copy) {
    if (s.down) s.down(MemberDown{d.node, d.incarnation, d.reason});
  }
}

void subscribe_members(NodeCore& core, MemberSink sink) {
  std::vector<MemberUp> current;
  {
    std::lock_guard lock(core.mu);
    for (auto& [n, p] : core.peers) {
      if (p->up) current.push_back(MemberUp{n, p->incarnation});
    }
    core.sinks.push_back(sink);
  }
  if (sink.up) {
    for (auto& up : current) sink.up(up);
  }
}

}  // namespace troupe::detail::remote
