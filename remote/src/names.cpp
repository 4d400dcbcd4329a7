// remote/src/names.cpp - publishing a local actor under a cluster-wide name, and finding
// who holds a name: each published name is a NATS subject its holder answers lookups on.
// With agreed names the claim is a write to the cluster's JetStream bucket (NameStore),
// which has one winner; otherwise publish asks whoever listens on the name (best effort).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"

namespace troupe::detail::remote {

void on_lookup(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  Frame f;
  const char* reply = natsMsg_GetReply(msg);
  std::string_view bytes(natsMsg_GetData(msg),
                         static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  if (core->closed.load() || reply == nullptr) {
    // nothing to answer
  } else if (!parse_frame(bytes, f) || f.kind != Kind::lookup) {
    ++core->malformed;
    core->log("malformed lookup on %s dropped", natsMsg_GetSubject(msg));
  } else {
    bool held;
    {
      std::lock_guard lock(core->mu);
      held = core->published.count(std::string(f.target)) != 0;
    }
    if (held) {
      try {
        Frame out;
        out.kind = Kind::found;
        out.incarnation = core->incarnation.load();
        out.id = f.id;
        out.from = core->name;
        out.target = f.target;
        std::string data = encode_frame(out);
        natsConnection_Publish(nc, reply, data.data(), static_cast<int>(data.size()));
      } catch (const std::exception&) {
      }
    }
  }
  natsMsg_Destroy(msg);
}

namespace {

/// Best effort: does a live actor elsewhere hold the name? Ask whoever listens on it.
void check_unheld(NodeCore& core, const std::string& name) {
  Frame f;
  f.kind = Kind::lookup;
  f.incarnation = core.incarnation.load();
  f.from = core.name;
  f.target = name;
  std::string data = encode_frame(f);
  natsMsg* reply = nullptr;
  auto wait = std::min<std::chrono::milliseconds>(core.options.ask_timeout,
                                                  std::chrono::milliseconds(1000));
  natsStatus s = natsConnection_Request(&reply, core.conn, core.name_subject(name).c_str(),
                                        data.data(), static_cast<int>(data.size()), wait.count());
  if (s == NATS_OK) {
    Frame answer;
    std::string_view bytes(natsMsg_GetData(reply),
                           static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    bool live = parse_frame(bytes, answer) && answer.kind == Kind::found;
    std::string holder(live ? answer.from : "?");
    if (live) {
      std::lock_guard lock(core.mu);
      live = core.downs.count({holder, answer.incarnation}) == 0;
    }
    natsMsg_Destroy(reply);
    if (live) throw NameTaken("troupe: '" + name + "' is held by a live actor on node " + holder);
  } else if (s == NATS_TIMEOUT) {
    throw NameTaken(
        "troupe: '" + name + "' may be held elsewhere: a holder did not answer within " +
        std::to_string(wait.count()) + " ms (a frozen node keeps its names until declared down)");
  } else if (s != NATS_NO_RESPONDERS) {
    throw NodeDown(std::string("troupe: Node::publish: cannot check the name: ") +
                   natsStatus_GetText(s));
  }
}

enum class Liveness { live, gone, unsure };

/// Whether the holder an entry names is alive, as far as this node's membership knows: a
/// node incarnation declared down (or replaced) is gone; one heard from and up is live;
/// one never heard is unsure until this node has listened for down_after.
Liveness judge(NodeCore& core, const NameHolder& h, const std::string& name) {
  if (!h.readable) return Liveness::gone;  // not a value a node wrote
  std::lock_guard lock(core.mu);
  if (core.downs.count({h.node, h.incarnation}) != 0) return Liveness::gone;
  if (h.node == core.name) {
    // Our own: live only if still published here (else a release is on its way, or it is
    // an earlier incarnation's).
    bool ours = h.incarnation == core.incarnation.load() && core.published.count(name) != 0;
    return ours ? Liveness::live : Liveness::gone;
  }
  auto it = core.peers.find(h.node);
  if (it != core.peers.end() && it->second->up && it->second->incarnation == h.incarnation) {
    return Liveness::live;
  }
  return Liveness::unsure;
}

/// Agreed: claims `name` in the name table for this incarnation; returns the revision.
std::uint64_t claim(NodeCore& core, const std::string& name, std::uint64_t inc) {
  const auto started = SteadyClock::now();
  const auto limit = std::max(core.options.ask_timeout, 2 * core.options.down_after);
  for (;;) {
    if (SteadyClock::now() - started > limit) {
      throw NameTaken("troupe: '" + name + "' is contended: no claim settled within " +
                      std::to_string(limit.count()) + " ms");
    }
    std::uint64_t revision = 0;
    NameHolder holder;
    std::string error;
    auto outcome = core.name_table.create(name, core.name, inc, revision, holder, error);
    if (outcome == NameStore::Outcome::claimed) return revision;
    if (outcome == NameStore::Outcome::raced) continue;
    if (outcome == NameStore::Outcome::failed) {
      throw NodeDown("troupe: Node::publish: the name table does not answer: " + error);
    }
    // A holder this node has not heard: alive ones heartbeat every `heartbeat`, so give it
    // down_after of listening (as failure detection would) before taking the name over.
    Liveness l = judge(core, holder, name);
    auto unsure_since = SteadyClock::now();
    while (l == Liveness::unsure && SteadyClock::now() - unsure_since < core.options.down_after) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!core.hb_connected.load()) unsure_since = SteadyClock::now();  // deaf: start again
      if (SteadyClock::now() - started > limit) break;
      l = judge(core, holder, name);
    }
    if (l == Liveness::live) {
      throw NameTaken("troupe: '" + name + "' is held by a live actor on node " + holder.node);
    }
    if (l == Liveness::unsure && SteadyClock::now() - started > limit) continue;  // times out
    // Its holder is gone: replace the entry, if nobody else did first.
    outcome = core.name_table.replace(name, core.name, inc, holder.revision, revision, error);
    if (outcome == NameStore::Outcome::claimed) return revision;
    if (outcome == NameStore::Outcome::failed) {
      throw NodeDown("troupe: Node::publish: the name table does not answer: " + error);
    }
  }
}

}  // namespace

void publish(NodeCore& core, std::string name, Published published) {
  if (!valid_token(name)) {
    throw std::invalid_argument("troupe: Node::publish: '" + name +
                                "' is not a usable name (no dots, spaces or wildcards)");
  }
  {
    std::lock_guard lock(core.mu);
    if (core.closing) throw NodeDown("troupe: Node::publish: the node is closed");
    if (core.published.count(name) != 0 || !core.claiming.insert(name).second) {
      throw NameTaken("troupe: '" + name + "' is already published by this node");
    }
  }
  struct Unclaim {
    NodeCore& core;
    const std::string& name;
    ~Unclaim() {
      std::lock_guard lock(core.mu);
      core.claiming.erase(name);
    }
  } unclaim{core, name};

  const std::uint64_t inc = core.incarnation.load();
  std::uint64_t revision = 0;
  if (core.names_agreed) {
    revision = claim(core, name, inc);
  } else {
    check_unheld(core, name);
  }
  Ref<Actor> actor = published.actor;
  {
    std::lock_guard lock(core.mu);
    if (core.closing || core.incarnation.load() != inc) {
      // Fenced (or closed) while claiming: the claim belongs to a gone incarnation.
      if (revision != 0) core.name_table.release_later(name, revision);
      throw NodeDown("troupe: Node::publish: this node was fenced or closed while publishing");
    }
    try {
      auto* sub = core.subscribe(core.conn, core.name_subject(name), on_lookup);
      core.name_subs[name] = sub;
    } catch (...) {
      if (revision != 0) core.name_table.release_later(name, revision);
      throw;
    }
    core.published[name] = std::make_shared<const Published>(std::move(published));
    if (revision != 0) core.name_revisions[name] = revision;
  }
  natsConnection_FlushTimeout(core.conn, 1000);
  core.proxy.tell(WatchLocal{actor}, troupe::urgent);
}

void lookup(const std::shared_ptr<NodeCore>& core, std::string name,
            std::chrono::milliseconds deadline,
            std::function<void(Target, std::exception_ptr)> done) {
  if (!valid_token(name)) {
    done({}, std::make_exception_ptr(NoSuchActor("'" + name + "' is not a usable name")));
    return;
  }
  if (!core->connected.load() || core->closed.load()) {
    ++core->asks_failed;
    done({}, std::make_exception_ptr(NodeDown("this node is not connected to NATS right now")));
    return;
  }
  std::uint64_t inc = core->incarnation.load();
  Pending p;
  p.name = name;
  p.found = std::move(done);
  std::uint64_t id = core->add_pending(std::move(p), deadline);
  Frame f;
  f.kind = Kind::lookup;
  f.incarnation = inc;
  f.id = id;
  f.from = core->name;
  f.target = name;
  if (!core->enqueue("*", 0, core->name_subject(name),
                     core->reply_prefix(inc) + "." + std::to_string(id), encode_frame(f), id)) {
    core->fail(id, std::make_exception_ptr(NodeDown("the lookup could not be sent")));
  }
}

std::uint64_t NodeCore::forget_name_locked(const std::string& n) {
  auto sub = name_subs.find(n);
  if (sub != name_subs.end() && !closing) {
    natsSubscription_Unsubscribe(sub->second);  // no more lookup answers from here
    name_subs.erase(sub);
  }
  published.erase(n);
  std::uint64_t revision = 0;
  if (auto it = name_revisions.find(n); it != name_revisions.end()) {
    revision = it->second;
    name_revisions.erase(it);
  }
  return revision;
}

void NodeCore::unpublish(const std::string& n) {
  std::uint64_t revision;
  {
    std::lock_guard lock(mu);
    revision = forget_name_locked(n);
  }
  if (revision != 0) name_table.release(n, revision);  // at once: it may be taken right after
}

void NodeCore::open_names() {
  if (options.names == NameRegistry::best_effort) return;
  auto wait = std::min<std::chrono::milliseconds>(std::max(options.connect_timeout,
                                                           std::chrono::milliseconds(500)),
                                                  std::chrono::milliseconds(5000));
  std::string why = name_table.open(conn, options.cluster, options.names_replicas, wait);
  if (why.empty()) {
    names_agreed = true;
  } else if (options.names == NameRegistry::jetstream) {
    throw ConnectError("troupe: node '" + name + "' needs agreed names (NameRegistry::jetstream): " +
                       why);
  } else {
    log("names are checked best effort, not agreed cluster-wide: %s", why.c_str());
  }
}

}  // namespace troupe::detail::remote
