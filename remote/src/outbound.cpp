// remote/src/outbound.cpp - the way out: a tell (or any frame) goes into its peer's bounded
// queue, and the sender thread publishes the queues on the bulk connection.
#include <chrono>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"

namespace troupe::detail::remote {

namespace {

/// A caller publishes its frame itself, without waking the sender thread, when nothing is
/// queued or being published for the peer and nothing was for this long: sparse traffic
/// (an ask, its reply) saves two thread hand-offs, while a stream of tells still goes
/// through the queue and leaves in batches.
constexpr auto kSparse = std::chrono::microseconds(100);

/// The most bytes of frames packed into one NATS message (NATS allows 1 MB by default).
constexpr std::size_t kBatchBytes = 64 * 1024;

}  // namespace

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

  auto now = SteadyClock::now();
  if (!p.sending && p.queue.empty() && now - p.last_publish >= kSparse) {
    // Sparse traffic: publish on this thread. `sending` keeps later frames for this peer
    // queued until this one is out, so FIFO holds.
    p.sending = true;
    p.last_publish = now;
    ++inline_sends;
    lock.unlock();
    Outgoing o{std::move(subject), std::move(reply), std::move(data), ask_id};
    std::deque<Outgoing> one;
    one.push_back(std::move(o));
    auto [ok, refused] = publish_frames(p, one);
    lock.lock();
    p.sent += ok;
    p.dead_letters += refused;
    bool wake = publish_ended_locked(p);
    if (--inline_sends == 0 && closing) wake = true;  // the sender thread may leave now
    lock.unlock();
    sent += ok;
    dead_letters += refused;
    if (wake) out_cv.notify_one();
    return true;
  }

  p.queued_bytes += data.size();
  p.queue.push_back(Outgoing{std::move(subject), std::move(reply), std::move(data), ask_id});
  bool wake = false;
  if (!p.ready && !p.sending) {  // while it is sending, publish_ended_locked does this
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

bool NodeCore::publish_ended_locked(Peer& p) {
  p.sending = false;
  if (p.queue.empty() || p.ready) return false;
  p.ready = true;
  bool wake = ready_peers.empty();
  ready_peers.push_back(&p);
  return wake;
}

void NodeCore::fail_evicted(const std::vector<std::uint64_t>& ids) {
  for (auto id : ids) {
    fail(id,
         std::make_exception_ptr(MailboxFull("the ask was dropped from a full outbound queue")));
  }
}

natsStatus NodeCore::publish_one(const Outgoing& o) {
  return o.reply.empty()
             ? natsConnection_Publish(conn, o.subject.c_str(), o.data.data(),
                                      static_cast<int>(o.data.size()))
             : natsConnection_PublishRequest(conn, o.subject.c_str(), o.reply.c_str(),
                                             o.data.data(), static_cast<int>(o.data.size()));
}

std::pair<std::uint64_t, std::uint64_t> NodeCore::publish_frames(Peer& peer,
                                                                 std::deque<Outgoing>& frames) {
  std::uint64_t ok = 0, refused = 0;
  std::string batch;
  for (std::size_t i = 0; i < frames.size();) {
    // A run of frames without a reply subject (tells, replies, watches) to one subject
    // leaves as one batch; an ask or a lookup (a NATS request) leaves alone.
    const Outgoing& first = frames[i];
    std::size_t end = i + 1;
    if (first.reply.empty()) {
      std::size_t bytes = first.data.size();
      while (end < frames.size() && frames[end].reply.empty() &&
             frames[end].subject == first.subject &&
             bytes + frames[end].data.size() <= kBatchBytes) {
        bytes += frames[end].data.size();
        ++end;
      }
    }
    natsStatus s;
    if (end - i == 1) {
      s = publish_one(first);
    } else {
      start_batch(batch);
      for (std::size_t k = i; k < end; ++k) append_to_batch(batch, frames[k].data);
      s = natsConnection_Publish(conn, first.subject.c_str(), batch.data(),
                                 static_cast<int>(batch.size()));
    }
    if (s == NATS_OK) {
      ok += end - i;
    } else {
      refused += end - i;
      log("dead letter to %s: NATS refused the publish: %s", peer.name.c_str(),
          natsStatus_GetText(s));
      for (std::size_t k = i; k < end; ++k) {
        if (frames[k].ask_id != 0) {
          fail(frames[k].ask_id,
               std::make_exception_ptr(
                   NodeDown(std::string("the ask could not be sent: ") + natsStatus_GetText(s))));
        }
      }
    }
    i = end;
  }
  return {ok, refused};
}

void NodeCore::run_sender() {
  std::unique_lock lock(mu);
  std::vector<std::pair<Peer*, std::deque<Outgoing>>> batch;
  for (;;) {
    // Closing, it leaves once everything queued has gone and no caller is still publishing
    // (what such a caller finds queued behind its frame comes here).
    out_cv.wait(lock, [&] { return (closing && inline_sends == 0) || !ready_peers.empty(); });
    if (ready_peers.empty()) break;
    auto now = SteadyClock::now();
    for (Peer* p : ready_peers) {
      batch.emplace_back(p, std::move(p->queue));
      p->queue.clear();
      p->queued_bytes = 0;
      p->ready = false;
      p->sending = true;
      p->last_publish = now;
    }
    ready_peers.clear();
    lock.unlock();
    for (auto& [peer, frames] : batch) {
      auto [ok, refused] = publish_frames(*peer, frames);
      sent += ok;
      dead_letters += refused;
      std::lock_guard plock(mu);
      peer->sent += ok;
      peer->dead_letters += refused;
      publish_ended_locked(*peer);  // this thread takes what came meanwhile, next round
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
