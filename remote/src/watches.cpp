// remote/src/watches.cpp - remote watches both ways: our actors watching remote ones
// (RemoteDown when it ends or its node goes down) and remote nodes watching our published
// actors (an actor_down frame to each when it ends).
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "internal/node_core.hpp"

namespace troupe::detail::remote {

void ProxyActor::on(const Down& d) { core_->local_actor_ended(d); }

void NodeCore::send_actor_down(const std::string& actor, const RemoteWatcher& w,
                               const std::string& reason) {
  Frame f;
  f.kind = Kind::actor_down;
  f.incarnation = incarnation.load();
  f.from = name;
  f.target = actor;
  f.body = reason;
  enqueue(w.node, w.incarnation, data_subject(w.node, w.incarnation), {}, encode_frame(f), 0);
}

void NodeCore::local_actor_ended(const Down& d) {
  std::vector<std::pair<std::string, std::vector<RemoteWatcher>>> notify;
  {
    std::lock_guard lock(mu);
    for (auto it = published.begin(); it != published.end();) {
      if (it->second->actor == d.actor) {
        std::string n = (it++)->first;
        notify.emplace_back(n, std::move(remote_watchers[n]));
        remote_watchers.erase(n);
        // The name is free again: released in the name table by its thread (the proxy
        // actor does not wait for NATS).
        if (std::uint64_t revision = forget_name_locked(n)) name_table.release_later(n, revision);
      } else {
        ++it;
      }
    }
  }
  for (auto& [actor, list] : notify) {
    for (auto& w : list) send_actor_down(actor, w, d.reason_text());
  }
}

void NodeCore::add_remote_watcher(const Frame& f) {
  RemoteWatcher w{std::string(f.from), f.incarnation};
  std::string actor(f.target);
  {
    std::lock_guard lock(mu);
    if (downs.count({w.node, w.incarnation}) != 0) return;
    if (published.count(actor) != 0) {
      remote_watchers[actor].push_back(w);
      return;
    }
  }
  send_actor_down(actor, w, "no actor is published under this name");
}

void NodeCore::watched_actor_ended(const Frame& f) {
  std::vector<WatchEntry> fired;
  {
    std::lock_guard lock(mu);
    if (downs.count({std::string(f.from), f.incarnation}) != 0) return;
    auto keep = std::stable_partition(watches.begin(), watches.end(), [&](const WatchEntry& w) {
      return !(w.target.node == f.from && w.target.incarnation == f.incarnation &&
               w.target.actor == f.target);
    });
    std::move(keep, watches.end(), std::back_inserter(fired));
    watches.erase(keep, watches.end());
  }
  for (auto& w : fired) {
    w.notify(RemoteDown{w.target.node, w.target.incarnation, w.target.actor, false,
                        std::string(f.body)});
  }
}

void watch(NodeCore& core, const Target& target, std::function<void(const RemoteDown&)> notify) {
  {
    std::lock_guard lock(core.mu);
    if (core.downs.count({target.node, target.incarnation}) == 0) {
      core.watches.push_back(WatchEntry{target, std::move(notify)});
      notify = nullptr;
    }
  }
  if (notify) {
    notify(RemoteDown{target.node, target.incarnation, target.actor, true,
                      "the node was declared down"});
    return;
  }
  Frame f;
  f.kind = Kind::watch;
  f.incarnation = core.incarnation.load();
  f.from = core.name;
  f.target = target.actor;
  core.enqueue(target.node, target.incarnation, core.data_subject(target.node, target.incarnation),
               {}, encode_frame(f), 0);
}

}  // namespace troupe::detail::remote
