// remote/src/outbound.cpp - the way out: a tell (or any frame) goes into its peer's bounded
// queue, and the sender thread publishes the queues on the bulk connection.
#include <string>
#include <utility>
#include <vector>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"

namespace troupe::detail::remote {

bool NodeCore::enqueue(const std::string& node, std::uint64_t node_inc, std::string subject,
                       std::string reply, std::string data, std::uint64_t ask_id) {
  std::unique_lock lock(mu);
  Peer& p = peer_locked(node);
  const char* why = nullptr;
  std::vector<std::uint64_t> evicted_asks;
  std::size_t evicted = 0;
  auto full = [&] {
    return p.queue.size() + 1 > options.outbound_max_messages ||
           p.queued_bytes + data.size() > options.outbound_max_bytes;
  };
  if (closing) {
    why = "the node is closed";
  } else if (node_inc != 0 && downs.count({node, node_inc}) != 0) {
    why = "the node was declared down";
  } else if (data.size() > options.outbound_max_bytes) {
    why = "the message alone exceeds the outbound bound";  // evicting others would not help
  } else if (full()) {
    if (options.outbound_overflow == Overflow::drop_oldest && !p.queue.empty()) {
      while (!p.queue.empty() && full()) {
        if (p.queue.front().ask_id != 0) evicted_asks.push_back(p.queue.front().ask_id);
        p.queued_bytes -= p.queue.front().data.size();
        p.queue.pop_front();
        ++evicted;
        ++p.dead_letters;
        ++dead_letters;
      }
    } else {
      why = "its outbound queue is full";
    }
  }
  if (why != nullptr) {
    ++p.dead_letters;
    ++dead_letters;
    lock.unlock();
    log("dead letter to %s: %s", node.c_str(), why);
    fail_evicted(evicted_asks);
    return false;
  }
  p.queued_bytes += data.size();
  p.queue.push_back(Outgoing{std::move(subject), std::move(reply), std::move(data), ask_id});
  bool wake = false;
  if (!p.ready) {
    p.ready = true;
    wake = ready_peers.empty();
    ready_peers.push_back(&p);
  }
  lock.unlock();
  if (wake) out_cv.notify_one();
  if (evicted > 0) {
    log("dead letter to %s: dropped the oldest queued frames (outbound queue full)", node.c_str());
  }
  fail_evicted(evicted_asks);
  return true;
}

void NodeCore::fail_evicted(const std::vector<std::uint64_t>& ids) {
  for (auto id : ids) {
    fail(id,
         std::make_exception_ptr(MailboxFull("the ask was dropped from a full outbound queue")));
  }
}

void NodeCore::run_sender() {
  std::unique_lock lock(mu);
  std::vector<std::pair<Peer*, std::deque<Outgoing>>> batch;
  for (;;) {
    out_cv.wait(lock, [&] { return closing || !ready_peers.empty(); });
    if (ready_peers.empty()) break;  // closing, and everything queued has gone
    for (Peer* p : ready_peers) {
      batch.emplace_back(p, std::move(p->queue));
      p->queue.clear();
      p->queued_bytes = 0;
      p->ready = false;
    }
    ready_peers.clear();
    lock.unlock();
    for (auto& [peer, frames] : batch) {
      std::uint64_t ok = 0, refused = 0;
      for (auto& o : frames) {
        natsStatus s =
            o.reply.empty()
                ? natsConnection_Publish(conn, o.subject.c_str(), o.data.data(),
                                         static_cast<int>(o.data.size()))
                : natsConnection_PublishRequest(conn, o.subject.c_str(), o.reply.c_str(),
                                                o.data.data(), static_cast<int>(o.data.size()));
        if (s == NATS_OK) {
          ++ok;
          continue;
        }
        ++refused;
        log("dead letter to %s: NATS refused the publish: %s", peer->name.c_str(),
            natsStatus_GetText(s));
        if (o.ask_id != 0) {
          fail(o.ask_id, std::make_exception_ptr(NodeDown(
                             std::string("the ask could not be sent: ") + natsStatus_GetText(s))));
        }
      }
      sent += ok;
      dead_letters += refused;
      std::lock_guard plock(mu);
      peer->sent += ok;
      peer->dead_letters += refused;
    }
    batch.clear();
    lock.lock();
  }
  sender_done = true;
}

bool tell(const std::shared_ptr<NodeCore>& core, const Target& target, std::string_view type,
          std::string body) {
  Frame f;
  f.kind = Kind::tell;
  f.incarnation = core->incarnation.load();
  f.from = core->name;
  f.target = target.actor;
  f.type = type;
  f.body = body;
  return core->enqueue(target.node, target.incarnation,
                       core->data_subject(target.node, target.incarnation), {}, encode_frame(f), 0);
}

void encode_failed(const std::shared_ptr<NodeCore>& core, const Target& target,
                   const char* reason) {
  {
    std::lock_guard lock(core->mu);
    ++core->peer_locked(target.node).dead_letters;
  }
  ++core->dead_letters;
  core->log("dead letter to %s: the message does not encode: %s", target.node.c_str(), reason);
}

}  // namespace troupe::detail::remote
