// remote/src/names.cpp - publishing a local actor under a cluster-wide name, and finding
// who holds a name: each published name is a NATS subject its holder answers lookups on.
#include <algorithm>
#include <stdexcept>
#include <string>

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

void publish(NodeCore& core, std::string name, Published published) {
  if (!valid_token(name)) {
    throw std::invalid_argument("troupe: Node::publish: '" + name +
                                "' is not a usable name (no dots, spaces or wildcards)");
  }
  {
    std::lock_guard lock(core.mu);
    if (core.closing) throw NodeDown("troupe: Node::publish: the node is closed");
    if (core.published.count(name) != 0) {
      throw NameTaken("troupe: '" + name + "' is already published by this node");
    }
  }
  // Does a live actor elsewhere hold the name? Ask whoever listens on it.
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
  Ref<Actor> actor = published.actor;
  {
    std::lock_guard lock(core.mu);
    if (core.published.count(name) != 0) {
      throw NameTaken("troupe: '" + name + "' is already published by this node");
    }
    auto* sub = core.subscribe(core.conn, core.name_subject(name), on_lookup);
    core.name_subs[name] = sub;
    core.published[name] = std::make_shared<const Published>(std::move(published));
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

void NodeCore::unpublish(const std::string& name) {
  std::lock_guard lock(mu);
  auto sub = name_subs.find(name);
  if (sub != name_subs.end() && !closing) {
    natsSubscription_Unsubscribe(sub->second);
    name_subs.erase(sub);
  }
  published.erase(name);
}

}  // namespace troupe::detail::remote
