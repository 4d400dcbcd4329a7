// remote/src/inbound.cpp - the way in: what NATS delivers on the bulk connection is told to
// the proxy actor, which parses it and delivers tells and asks to published actors.
#include <cstdlib>
#include <string>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"

namespace troupe::detail::remote {

void ProxyActor::on(const Inbound& in) {
  // Counted down once its frames are in their mailboxes (see deliver_directly), however
  // handle() ends.
  struct Handled {
    NodeCore& core;
    ~Handled() { --core.proxy_backlog; }
  } handled{*core_};
  core_->handle(in);
}

void on_bulk(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  if (!core->closed.load()) {
    try {
      // An answer to one of our asks completes here: the asker waits one hand-off less.
      // Everything else goes to the proxy actor (fencing and ordering live there).
      std::string_view bytes(natsMsg_GetData(msg),
                             static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
      Frame f;
      if (!natsMsg_IsNoResponders(msg) && is_answer(bytes) && parse_frame(bytes, f)) {
        core->complete(f);
        natsMsg_Destroy(msg);
        return;
      }
      if (core->options.deliver_on_nats_thread && !natsMsg_IsNoResponders(msg) &&
          core->deliver_directly(bytes, natsMsg_GetReply(msg))) {
        natsMsg_Destroy(msg);
        return;
      }
      Inbound in;
      in.no_responders = natsMsg_IsNoResponders(msg);
      if (in.no_responders) in.subject = natsMsg_GetSubject(msg);
      in.data.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
      if (const char* reply = natsMsg_GetReply(msg)) in.reply = reply;
      ++core->proxy_backlog;
      if (!core->proxy.tell(std::move(in))) {  // bounded: a slow node drops
        --core->proxy_backlog;
        ++core->proxy_drops;
      }
    } catch (const std::exception& e) {
      ++core->dropped;
      core->log("inbound frame dropped: %s", e.what());
    }
  }
  natsMsg_Destroy(msg);
}

// The short way in, for a lone tell or ask (an ask and its reply are the sparse traffic
// whose latency counts): decoded and put into its actor's mailbox on this NATS thread,
// without the proxy actor's hop. Order: the node's data subscription delivers on one cnats
// thread in arrival order, and this path is taken only while the proxy holds none of the
// earlier frames (proxy_backlog counts them until they are in their mailboxes), so a frame
// never overtakes one that arrived before it. Fencing: deliver() checks the incarnation as
// on the proxy, and handle_down waits for direct deliveries in flight (counted before the
// check) before it tells anyone the Down, so a frame that passed the check is queued first.
bool NodeCore::deliver_directly(std::string_view bytes, const char* reply) {
  if (is_batch(bytes) || proxy_backlog.load() != 0) return false;
  Frame f;
  if (!parse_frame(bytes, f) || (f.kind != Kind::tell && f.kind != Kind::ask)) return false;
  ++direct_in_flight;
  try {
    deliver(f, reply != nullptr ? std::string(reply) : std::string());
  } catch (...) {
    --direct_in_flight;
    throw;
  }
  --direct_in_flight;
  return true;
}

void NodeCore::handle(const Inbound& in) {
  std::string_view subject = in.subject;
  const std::string& reply_subject = in.reply;
  if (in.no_responders) {
    auto dot = subject.rfind('.');
    std::uint64_t id = std::strtoull(std::string(subject.substr(dot + 1)).c_str(), nullptr, 10);
    std::string what;
    bool lookup = false;
    {
      std::lock_guard lock(mu);
      auto it = pending.find(id);
      if (it == pending.end()) return;
      lookup = static_cast<bool>(it->second.found);
      what = it->second.name;
      if (!lookup) what += "' on node " + it->second.node;
    }
    fail(id, lookup
                 ? std::make_exception_ptr(NoSuchActor("no actor is published as '" + what + "'"))
                 : std::make_exception_ptr(NodeDown("nobody listens for '" + what +
                                                    " any more: that node incarnation is gone")));
    return;
  }
  if (is_batch(in.data)) {
    BatchReader batch(in.data);
    std::string_view frame;
    while (batch.next(frame)) handle_frame(frame, {});
    if (!batch.ok()) {
      ++malformed;
      log("malformed batch (%zu bytes) dropped from its first bad frame on", in.data.size());
    }
    return;
  }
  handle_frame(in.data, reply_subject);
}

void NodeCore::handle_frame(std::string_view bytes, const std::string& reply_subject) {
  Frame f;
  if (!parse_frame(bytes, f)) {
    ++malformed;
    log("malformed frame (%zu bytes) dropped", bytes.size());
    return;
  }
  switch (f.kind) {
    case Kind::tell:
    case Kind::ask:
      deliver(f, reply_subject);
      break;
    case Kind::reply:
    case Kind::fail:
    case Kind::found:
      complete(f);
      break;
    case Kind::watch:
      add_remote_watcher(f);
      break;
    case Kind::actor_down:
      watched_actor_ended(f);
      break;
    default:
      ++unknown;
      log("unexpected frame kind %d dropped", static_cast<int>(f.kind));
  }
}

// Fencing at the point of delivery. Only the proxy actor hands remote messages to local
// actors, and only the proxy tells them a node's MemberDown and RemoteDowns (handle_down).
// declare_down adds the incarnation to `downs` before it tells the proxy DeclaredDown. So a
// message that passes the check below is in its actor's mailbox before the proxy even
// receives the Down, and every later one is dropped here: nothing a fenced incarnation
// sent is handled after its Down. (A frame's incarnation is stamped inside tell(); a tell
// racing its node's rejoin belongs to whichever incarnation it was stamped with.)
void NodeCore::deliver(const Frame& f, const std::string& reply_subject) {
  std::string from(f.from);
  std::shared_ptr<const Published> target;
  {
    std::lock_guard lock(mu);
    Peer& p = peer_locked(from);
    if (downs.count({from, f.incarnation}) != 0) {
      ++p.dropped;
      ++dropped;
      return;  // nothing a fenced incarnation sent is delivered after its Down
    }
    ++p.received;
    auto it = published.find(std::string(f.target));
    if (it != published.end()) target = it->second;
  }
  ++received;
  bool is_ask = f.kind == Kind::ask && !reply_subject.empty();
  ReplyFn reply;
  if (is_ask) reply = make_reply(from, f.incarnation, f.id, reply_subject);
  if (!target) {
    ++unknown;
    log("frame for unknown actor '%.*s' from %s dropped", static_cast<int>(f.target.size()),
        f.target.data(), from.c_str());
    if (is_ask) {
      reply({}, std::make_exception_ptr(NoSuchActor("no actor is published as '" +
                                                    std::string(f.target) + "' on node " + name)));
    }
    return;
  }
  auto handler = target->by_type.find(std::string(f.type));
  if (handler == target->by_type.end()) {
    ++unknown;
    log("message of unknown type '%.*s' for '%.*s' dropped", static_cast<int>(f.type.size()),
        f.type.data(), static_cast<int>(f.target.size()), f.target.data());
    if (is_ask) {
      reply({}, std::make_exception_ptr(CodecError("actor '" + std::string(f.target) +
                                                   "' does not accept wire type '" +
                                                   std::string(f.type) + "'")));
    }
    return;
  }
  try {
    if (!handler->second(f.body, is_ask ? &reply : nullptr)) {
      std::lock_guard lock(mu);
      ++peer_locked(from).dropped;
      ++dropped;
    }
  } catch (const std::exception& e) {
    ++malformed;
    log("message '%.*s' does not decode (%s): dropped", static_cast<int>(f.type.size()),
        f.type.data(), e.what());
    if (is_ask && reply) {
      reply({}, std::make_exception_ptr(
                    CodecError(std::string("the message does not decode: ") + e.what())));
    }
  }
}

}  // namespace troupe::detail::remote
