// remote/src/node.cpp - the engine behind troupe::Node: NATS connections, the proxy actor,
// the outbound queues and their sender thread, heartbeats, failure detection and fencing.
//
// Threads, and what each may touch:
//   cnats delivery threads  copy what arrives into an Inbound message and tell the proxy
//                           actor (heartbeats and control frames update the membership
//                           table under `mu` directly); they never run a troupe handler;
//   the proxy actor         parses frames, delivers to published actors, completes asks,
//                           handles Down declarations (one at a time, as any actor);
//   the sender thread       drains the outbound queue into the bulk connection;
//   the heartbeat thread    publishes heartbeats on the heartbeat connection, declares
//                           silent nodes down, expires ask deadlines, rejoins when fenced.
#include "troupe/remote/node.hpp"

#include <cxxabi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <typeinfo>
#include <unordered_map>

#include <nats/nats.h>

#include "internal/frame.hpp"
#include "troupe/actor.hpp"
#include "troupe/probe.hpp"
#include "troupe/system.hpp"

namespace troupe::detail::remote {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// The reason a node gives when it leaves on purpose (Node's destructor).
constexpr std::string_view kLeft = "left the cluster";

/// Something NATS delivered on the bulk connection, handed to the proxy actor.
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

struct Outgoing {
  std::string subject;
  std::string reply;
  std::string data;
  std::uint64_t ask_id = 0;  // an ask to fail if the publish fails (or it is evicted)
};

struct Peer {
  std::string name;
  std::uint64_t incarnation = 0;
  bool up = false;
  SteadyClock::time_point last_seen{};
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  std::uint64_t dead_letters = 0;
  // The bounded outbound queue: FIFO for this peer, drained by the sender thread.
  std::deque<Outgoing> queue;
  std::size_t queued_bytes = 0;
  bool ready = false;  // listed in NodeCore::ready_peers
};

struct Pending {
  std::string node;  // empty for a lookup
  std::uint64_t incarnation = 0;
  std::string name;  // the looked-up name
  ReplyFn done;
  std::function<void(Target, std::exception_ptr)> found;
};

struct WatchEntry {
  Target target;
  std::function<void(const RemoteDown&)> notify;
};

struct RemoteWatcher {
  std::string node;
  std::uint64_t incarnation = 0;
};

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::uint64_t fresh_incarnation() {
  std::random_device rd;
  std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
  auto now = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                        std::chrono::microseconds(1));
  return (now << 16) ^ (r & 0xffff) ^ (r << 40);
}

/// A subject token: non-empty, no dots, wildcards or whitespace.
bool valid_token(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '.' || c == '*' || c == '>' || c <= ' ' || c == 127;
  });
}

std::string demangle(const char* name) {
  int status = 0;
  char* raw = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && raw != nullptr ? raw : name;
  std::free(raw);
  return out;
}

/// What an error is called on the wire: kind, exception type, message.
struct WireError {
  std::string kind, type, message;
};
WireError classify(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ActorStopped& e) {
    return {"no_actor", "troupe::ActorStopped", e.what()};
  } catch (const NoSuchActor& e) {
    return {"no_actor", "troupe::NoSuchActor", e.what()};
  } catch (const MailboxFull& e) {
    return {"full", "troupe::MailboxFull", e.what()};
  } catch (const CodecError& e) {
    return {"codec", "troupe::CodecError", e.what()};
  } catch (const std::exception& e) {
    return {"exception", demangle(typeid(e).name()), e.what()};
  } catch (...) {
    return {"exception", "unknown", "a value that is not a std::exception was thrown"};
  }
}
std::exception_ptr rebuild(std::string_view kind, std::string_view type, std::string_view message) {
  std::string m(message);
  if (kind == "no_actor") return std::make_exception_ptr(NoSuchActor(m));
  if (kind == "full") return std::make_exception_ptr(MailboxFull(m));
  if (kind == "codec") return std::make_exception_ptr(CodecError(m));
  if (kind == "exception") return std::make_exception_ptr(RemoteException(std::string(type), m));
  return std::make_exception_ptr(RemoteError(std::string(kind) + ": " + m));
}

class ProxyActor;

}  // namespace

// -- the core ------------------------------------------------------------------------------

struct NodeCore : std::enable_shared_from_this<NodeCore> {
  NodeCore(System& sys, NodeOptions opts) : system(sys), options(std::move(opts)) {}

  System& system;
  const NodeOptions options;
  std::uint64_t metrics_source = 0;  // probe::add_metrics_source's id (per-peer counters)
  std::string prefix;  // "troupe.<cluster>"
  std::string name;
  std::atomic<std::uint64_t> incarnation{0};
  std::atomic<std::uint64_t> previous_incarnation{0};  // the one before the last fencing

  natsConnection* conn = nullptr;
  natsConnection* hb_conn = nullptr;
  Ref<ProxyActor> proxy;

  // A delivery holds this shared from its check of `downs` until its message is in the
  // target's mailbox; declaring a node down holds it exclusively while it adds to `downs`.
  // So a message that passed the check is queued before the Down is, never after it.
  // Taken before `mu`, never while holding it.
  std::shared_mutex delivering;

  // Everything below is guarded by `mu` unless atomic.
  mutable std::mutex mu;
  std::condition_variable out_cv;    // the sender thread waits for work
  std::condition_variable stop_cv;   // the heartbeat thread's sleep
  std::condition_variable close_cv;  // shutdown waits for cnats to let go
  std::deque<Peer*> ready_peers;     // peers with queued frames, in the order they got some
  bool closing = false;
  bool sender_done = false;
  std::atomic<bool> closed{false};
  std::map<std::string, std::unique_ptr<Peer>> peers;
  std::set<std::pair<std::string, std::uint64_t>> downs;
  std::map<std::pair<std::string, std::uint64_t>, SteadyClock::time_point> down_resent;
  std::unordered_map<std::uint64_t, Pending> pending;
  std::multimap<SteadyClock::time_point, std::uint64_t> deadlines;
  std::uint64_t next_id = 1;
  std::map<std::string, std::shared_ptr<const Published>> published;
  std::map<std::string, natsSubscription*> name_subs;
  std::map<std::string, std::vector<RemoteWatcher>> remote_watchers;
  std::vector<WatchEntry> watches;
  std::vector<MemberSink> sinks;
  natsSubscription* data_sub = nullptr;
  natsSubscription* reply_sub = nullptr;
  natsSubscription* hb_sub = nullptr;
  natsSubscription* ctl_sub = nullptr;
  std::vector<natsSubscription*> all_subs;  // every one ever made, destroyed at shutdown
  int subs_completed = 0;
  int conns_closed = 0;
  SteadyClock::time_point reconnected_at{};
  SteadyClock::time_point last_check = SteadyClock::now();  // the heartbeat thread's last look
  std::atomic<std::uint64_t> proxy_drops{0};  // inbound refused by the proxy's full mailbox
  std::int64_t retired_drops = 0;             // slow-consumer drops of replaced subscriptions

  std::atomic<bool> connected{false};
  std::atomic<bool> hb_connected{false};
  std::atomic<bool> fence_pending{false};

  std::atomic<std::uint64_t> sent{0}, received{0}, dropped{0}, dead_letters{0}, malformed{0},
      unknown{0}, asks_failed{0}, disconnects{0}, fenced{0};

  std::mutex log_mu;
  SteadyClock::time_point log_window{};
  int log_lines = 0;
  std::uint64_t log_suppressed = 0;

  std::thread sender;
  std::thread heart;

  // -- subjects --------------------------------------------------------------------------
  std::string data_subject(const std::string& node, std::uint64_t inc) const {
    return prefix + ".n." + node + "." + hex(inc);
  }
  std::string reply_prefix(std::uint64_t inc) const {
    return prefix + ".r." + name + "." + hex(inc);
  }
  std::string hb_subject() const { return prefix + ".hb"; }
  std::string ctl_subject() const { return prefix + ".ctl"; }
  std::string name_subject(const std::string& n) const { return prefix + ".name." + n; }

  // -- logging ---------------------------------------------------------------------------
  void log(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    if (!options.log_drops) return;
    std::lock_guard lock(log_mu);
    auto now = SteadyClock::now();
    if (now - log_window >= std::chrono::seconds(1)) {
      if (log_suppressed > 0) {
        std::fprintf(stderr, "troupe node %s: %llu more lines suppressed\n", name.c_str(),
                     static_cast<unsigned long long>(log_suppressed));
      }
      log_window = now;
      log_lines = 0;
      log_suppressed = 0;
    }
    if (++log_lines > 5) {
      ++log_suppressed;
      return;
    }
    char line[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    std::fprintf(stderr, "troupe node %s: %s\n", name.c_str(), line);
  }

  Peer& peer_locked(const std::string& node) {
    auto& slot = peers[node];
    if (!slot) {
      slot = std::make_unique<Peer>();
      slot->name = node;
    }
    return *slot;
  }

  // -- outbound --------------------------------------------------------------------------

  /// Queues one frame for `node`; false if it became a dead letter (closed, peer down, full
  /// under `reject`/`drop_newest`). Under `drop_oldest` a full queue evicts its oldest frame
  /// instead (a dead letter; an evicted ask fails with MailboxFull).
  bool enqueue(const std::string& node, std::uint64_t node_inc, std::string subject,
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
      log("dead letter to %s: dropped the oldest queued frames (outbound queue full)",
          node.c_str());
    }
    fail_evicted(evicted_asks);
    return true;
  }
  void fail_evicted(const std::vector<std::uint64_t>& ids) {
    for (auto id : ids) {
      fail(id,
           std::make_exception_ptr(MailboxFull("the ask was dropped from a full outbound queue")));
    }
  }

  void run_sender() {
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
            fail(o.ask_id,
                 std::make_exception_ptr(
                     NodeDown(std::string("the ask could not be sent: ") + natsStatus_GetText(s))));
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

  // -- asks ------------------------------------------------------------------------------

  /// Fails ask `id` with `error` if it is still pending.
  void fail(std::uint64_t id, std::exception_ptr error) {
    Pending p;
    {
      std::lock_guard lock(mu);
      auto it = pending.find(id);
      if (it == pending.end()) return;
      p = std::move(it->second);
      pending.erase(it);
    }
    ++asks_failed;
    if (p.found) {
      p.found({}, error);
    } else {
      p.done({}, error);
    }
  }

  /// Fails every pending ask that `pick` selects.
  template <class Pick>
  void fail_all(Pick pick, const std::function<std::exception_ptr(const Pending&)>& error) {
    std::vector<Pending> failed;
    {
      std::lock_guard lock(mu);
      for (auto it = pending.begin(); it != pending.end();) {
        if (pick(it->second)) {
          failed.push_back(std::move(it->second));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : failed) {
      ++asks_failed;
      auto e = error(p);
      if (p.found) {
        p.found({}, e);
      } else {
        p.done({}, e);
      }
    }
  }

  void expire_asks(SteadyClock::time_point now) {
    std::vector<std::uint64_t> due;
    {
      std::lock_guard lock(mu);
      while (!deadlines.empty() && deadlines.begin()->first <= now) {
        due.push_back(deadlines.begin()->second);
        deadlines.erase(deadlines.begin());
      }
    }
    for (auto id : due) {
      std::string what;
      {
        std::lock_guard lock(mu);
        auto it = pending.find(id);
        if (it == pending.end()) continue;
        what = it->second.found ? "a lookup of '" + it->second.name + "'"
                                : "an ask to '" + it->second.name + "' on node " + it->second.node;
      }
      fail(id, std::make_exception_ptr(RemoteTimeout(what + " got no answer in time")));
    }
  }

  std::uint64_t add_pending(Pending p, std::chrono::milliseconds deadline) {
    if (deadline <= std::chrono::milliseconds::zero()) deadline = options.ask_timeout;
    std::lock_guard lock(mu);
    std::uint64_t id = next_id++;
    pending.emplace(id, std::move(p));
    deadlines.emplace(SteadyClock::now() + deadline, id);
    return id;
  }

  /// The function that answers an ask received from `node`: encodes the answer or the
  /// error and queues it for the asker's reply subject.
  ReplyFn make_reply(std::string node, std::uint64_t node_inc, std::uint64_t id,
                     std::string reply_subject) {
    std::weak_ptr<NodeCore> weak = weak_from_this();
    return [weak, node = std::move(node), node_inc, id, reply_subject = std::move(reply_subject)](
               std::string_view body, std::exception_ptr error) {
      auto core = weak.lock();
      if (!core) return;
      Frame f;
      f.incarnation = core->incarnation.load();
      f.id = id;
      f.from = core->name;
      WireError w;
      if (error) {
        w = classify(error);
        f.kind = Kind::fail;
        f.type = w.kind;
        f.target = w.type;
        f.body = w.message;
      } else {
        f.kind = Kind::reply;
        f.body = body;
      }
      core->enqueue(node, node_inc, reply_subject, {}, encode_frame(f), 0);
    };
  }

  // -- membership --------------------------------------------------------------------------

  void publish_control(const Frame& f, const std::string& subject) {
    std::string bytes = encode_frame(f);
    natsConnection_Publish(hb_conn, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()));
  }

  void declare_down(const std::string& node, std::uint64_t inc, const std::string& reason,
                    bool broadcast);
  void heard(const Frame& f);
  void check_members(SteadyClock::time_point now) {
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
        if (p->up && now - p->last_seen > options.down_after)
          silent.emplace_back(n, p->incarnation);
      }
    }
    for (auto& [n, inc] : silent) {
      declare_down(n, inc,
                   "silent for more than " + std::to_string(options.down_after.count()) + " ms",
                   true);
    }
  }
  void rejoin();
  void run_heart() {
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

  // -- the proxy's work (called on the proxy actor only) --------------------------------------
  void handle(const Inbound& in);
  void deliver(const Frame& f, const std::string& reply_subject);
  void complete(const Frame& f);
  void handle_down(const DeclaredDown& d);
  void local_actor_ended(const Down& d);
  void watched_actor_ended(const Frame& f);
  void add_remote_watcher(const Frame& f);
  void send_actor_down(const std::string& actor, const RemoteWatcher& w, const std::string& reason);

  // -- lifecycle ---------------------------------------------------------------------------
  void start();
  void shutdown();
  natsSubscription* subscribe(natsConnection* c, const std::string& subject, natsMsgHandler cb);
};

namespace {

// -- the proxy actor -----------------------------------------------------------------------

/// Receives everything NATS delivers for this node and does the node's work on it, one
/// message at a time, as an ordinary (daemon) actor.
class ProxyActor : public Actor {
 public:
  explicit ProxyActor(std::shared_ptr<NodeCore> core) : core_(std::move(core)) {}
  void on(const Inbound& in) { core_->handle(in); }
  void on(const DeclaredDown& d) { core_->handle_down(d); }
  void on(const ConnectionLost&) {
    core_->fail_all([](const Pending&) { return true; },
                    [](const Pending&) {
                      return std::make_exception_ptr(
                          NodeDown("the connection to NATS was lost while the ask was in flight"));
                    });
  }
  void on(const WatchLocal& w) { watch(w.actor); }
  void on(const Down& d) { core_->local_actor_ended(d); }

 private:
  std::shared_ptr<NodeCore> core_;
};

// -- cnats callbacks (cnats threads: never run troupe handlers here) -------------------------

void on_bulk(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  if (!core->closed.load()) {
    try {
      Inbound in;
      in.no_responders = natsMsg_IsNoResponders(msg);
      if (in.no_responders) in.subject = natsMsg_GetSubject(msg);
      in.data.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
      if (const char* reply = natsMsg_GetReply(msg)) in.reply = reply;
      if (!core->proxy.tell(std::move(in))) ++core->proxy_drops;  // bounded: a slow node drops
    } catch (const std::exception& e) {
      ++core->dropped;
      core->log("inbound frame dropped: %s", e.what());
    }
  }
  natsMsg_Destroy(msg);
}

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

void on_sub_complete(void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  std::lock_guard lock(core->mu);
  ++core->subs_completed;
  core->close_cv.notify_all();
}

void on_disconnected(natsConnection* nc, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  if (nc == core->hb_conn) {
    core->hb_connected = false;
    return;
  }
  core->connected = false;
  if (core->closed.load()) return;
  ++core->disconnects;
  core->log("lost the connection to NATS; reconnecting (asks in flight fail)");
  try {
    core->proxy.tell(ConnectionLost{}, troupe::urgent);
  } catch (const std::exception&) {
  }
}

void on_reconnected(natsConnection* nc, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  std::lock_guard lock(core->mu);
  auto now = SteadyClock::now();
  core->reconnected_at = now;
  for (auto& [n, p] : core->peers) p->last_seen = now;  // a fresh start for everyone
  (nc == core->hb_conn ? core->hb_connected : core->connected) = true;
}

void on_closed(natsConnection*, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  std::lock_guard lock(core->mu);
  ++core->conns_closed;
  core->close_cv.notify_all();
}

void on_error(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  if (err == NATS_SLOW_CONSUMER) {
    core->log("NATS dropped inbound messages: this node is not keeping up (slow consumer)");
  } else {
    core->log("NATS error: %s", natsStatus_GetText(err));
  }
}

}  // namespace

// -- membership ------------------------------------------------------------------------------

void NodeCore::declare_down(const std::string& node, std::uint64_t inc, const std::string& reason,
                            bool broadcast) {
  {
    std::unique_lock gate(delivering);  // deliveries that passed their check finish first
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

void NodeCore::rejoin() {
  std::uint64_t old = incarnation.load();
  std::uint64_t now_inc = fresh_incarnation();
  std::vector<MemberSink> copy;
  {
    std::lock_guard lock(mu);
    if (closing) return;
    previous_incarnation = old;
    incarnation = now_inc;
    ++fenced;
    for (auto& [n, sub] : name_subs) natsSubscription_Unsubscribe(sub);
    name_subs.clear();
    published.clear();
    remote_watchers.clear();
    for (auto* sub : {data_sub, reply_sub}) {
      int64_t d = 0;
      natsSubscription_GetDropped(sub, &d);
      retired_drops += d;
      natsSubscription_Unsubscribe(sub);
    }
    data_sub = subscribe(conn, data_subject(name, now_inc), on_bulk);
    reply_sub = subscribe(conn, reply_prefix(now_inc) + ".*", on_bulk);
    copy = sinks;
  }
  log("this node was declared down as incarnation %s (frozen or cut off); rejoined as %s; its "
      "names were dropped",
      hex(old).c_str(), hex(now_inc).c_str());
  fail_all(
      [](const Pending&) { return true; },
      [](const Pending&) {
        return std::make_exception_ptr(NodeDown(
            "this node was declared down by the cluster (fenced) while the ask was in flight"));
      });
  for (auto& s : copy) {
    if (s.fenced) s.fenced(Fenced{old, now_inc});
  }
}

// -- the proxy's work ----------------------------------------------------------------------------

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
  Frame f;
  if (!parse_frame(in.data, f)) {
    ++malformed;
    log("malformed frame (%zu bytes) dropped", in.data.size());
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

void NodeCore::deliver(const Frame& f, const std::string& reply_subject) {
  std::shared_lock gate(delivering);  // see `delivering`: no Down overtakes this message
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

void NodeCore::complete(const Frame& f) {
  Pending p;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(f.id);
    if (it == pending.end()) return;  // late: already timed out or failed
    if (f.kind == Kind::found) {
      if (!it->second.found || downs.count({std::string(f.from), f.incarnation}) != 0 ||
          !valid_token(f.from)) {
        return;  // a fenced holder answering: wait for a live one (or the deadline)
      }
    } else if (it->second.found || it->second.node != f.from ||
               it->second.incarnation != f.incarnation) {
      ++unknown;
      return;  // not from the node that was asked
    }
    p = std::move(it->second);
    pending.erase(it);
    ++peer_locked(std::string(f.from)).received;
  }
  ++received;
  if (f.kind == Kind::found) {
    p.found(Target{std::string(f.from), f.incarnation, p.name}, nullptr);
  } else if (f.kind == Kind::reply) {
    p.done(f.body, nullptr);
  } else {
    ++asks_failed;
    p.done({}, rebuild(f.type, f.target, f.body));
  }
}

void NodeCore::handle_down(const DeclaredDown& d) {
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
        auto sub = name_subs.find(it->first);
        if (sub != name_subs.end() && !closing) {
          natsSubscription_Unsubscribe(sub->second);  // the name is free again
          name_subs.erase(sub);
        }
        notify.emplace_back(it->first, std::move(remote_watchers[it->first]));
        remote_watchers.erase(it->first);
        it = published.erase(it);
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

// -- lifecycle ---------------------------------------------------------------------------------

natsSubscription* NodeCore::subscribe(natsConnection* c, const std::string& subject,
                                      natsMsgHandler cb) {
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, c, subject.c_str(), cb, this);
  if (s != NATS_OK) {
    throw ConnectError("troupe: cannot subscribe to " + subject + ": " + natsStatus_GetText(s));
  }
  natsSubscription_SetOnCompleteCB(sub, on_sub_complete, this);
  all_subs.push_back(sub);
  return sub;
}

namespace {

natsConnection* connect(NodeCore& core, const std::string& role) {
  const NodeOptions& o = core.options;
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK)
    throw ConnectError("troupe: cannot create NATS options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  std::vector<const char*> urls;
  for (auto& u : o.urls) urls.push_back(u.c_str());
  std::string client_name = "troupe " + o.cluster + "/" + core.name + " " + role;
  auto check = [&](natsStatus s, const char* what) {
    if (s != NATS_OK) {
      const char* detail = nats_GetLastError(nullptr);
      throw ConnectError(std::string("troupe: node '") + core.name + "': " + what + ": " +
                         (detail && *detail ? detail : natsStatus_GetText(s)));
    }
  };
  check(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "bad NATS urls");
  check(natsOptions_SetName(opts, client_name.c_str()), "options");
  check(natsOptions_SetTimeout(opts, o.connect_timeout.count()), "options");
  check(natsOptions_SetMaxReconnect(opts, -1), "options");
  check(natsOptions_SetReconnectWait(opts, 100), "options");
  check(natsOptions_SetReconnectJitter(opts, 0, 0), "options");
  check(natsOptions_SetReconnectBufSize(opts, 16 << 20), "options");
  check(natsOptions_SetPingInterval(opts, 2000), "options");
  check(natsOptions_SetMaxPendingMsgs(opts, o.inbound_max_messages), "options");
  // Write each publish at once instead of leaving it to cnats's flusher, which batches for
  // about a millisecond: an ask would wait that long twice. The sender thread already
  // takes whole batches off the queue, and heartbeats must not wait at all.
  check(natsOptions_SetSendAsap(opts, true), "options");
  if (!o.token.empty()) check(natsOptions_SetToken(opts, o.token.c_str()), "token");
  if (!o.user.empty()) {
    check(natsOptions_SetUserInfo(opts, o.user.c_str(), o.password.c_str()), "user and password");
  }
  if (!o.tls_ca_file.empty() || !o.tls_cert_file.empty()) {
    check(natsOptions_SetSecure(opts, true), "TLS");
    if (!o.tls_ca_file.empty()) {
      check(natsOptions_LoadCATrustedCertificates(opts, o.tls_ca_file.c_str()), "TLS CA file");
    }
    if (!o.tls_cert_file.empty()) {
      check(
          natsOptions_LoadCertificatesChain(opts, o.tls_cert_file.c_str(), o.tls_key_file.c_str()),
          "TLS certificate or key file");
    }
  }
  check(natsOptions_SetDisconnectedCB(opts, on_disconnected, &core), "options");
  check(natsOptions_SetReconnectedCB(opts, on_reconnected, &core), "options");
  check(natsOptions_SetClosedCB(opts, on_closed, &core), "options");
  check(natsOptions_SetErrorHandler(opts, on_error, &core), "options");
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) {
    const char* detail = nats_GetLastError(nullptr);
    std::string why = detail && *detail ? detail : natsStatus_GetText(s);
    std::string hint;
    if (s == NATS_CONNECTION_AUTH_FAILED || why.find("uthoriz") != std::string::npos) {
      hint =
          " (the server refused this node's credentials: check NodeOptions token, user "
          "and password)";
    } else if (s == NATS_NO_SERVER) {
      hint = " (no NATS server answered at the given urls)";
    }
    std::string list;
    for (auto& u : o.urls) list += (list.empty() ? "" : ", ") + u;
    throw ConnectError("troupe: node '" + core.name + "' cannot join cluster '" + o.cluster +
                       "' at " + list + ": " + why + hint);
  }
  return nc;
}

}  // namespace

void NodeCore::start() {
  // Connections first; the closed callback counts both at shutdown, so on a failure here
  // close and destroy what was opened before rethrowing.
  try {
    conn = connect(*this, "bulk");
    hb_conn = connect(*this, "heartbeat");
  } catch (...) {
    for (auto* c : {conn, hb_conn}) {
      if (c) {
        natsConnection_Close(c);
        natsConnection_Destroy(c);
      }
    }
    std::unique_lock lock(mu);
    close_cv.wait_for(lock, std::chrono::seconds(2),
                      [&] { return conns_closed >= (conn ? 1 : 0) + (hb_conn ? 1 : 0); });
    conn = hb_conn = nullptr;
    throw;
  }
  connected = true;
  hb_connected = true;
  {
    std::lock_guard lock(mu);
    reconnected_at = SteadyClock::now() - options.down_after;
    data_sub = subscribe(conn, data_subject(name, incarnation), on_bulk);
    natsSubscription_SetPendingLimits(data_sub, options.inbound_max_messages,
                                      options.inbound_max_bytes);
    reply_sub = subscribe(conn, reply_prefix(incarnation) + ".*", on_bulk);
    hb_sub = subscribe(hb_conn, hb_subject(), on_heartbeat);
    ctl_sub = subscribe(hb_conn, ctl_subject(), on_control);
  }
  natsConnection_FlushTimeout(conn, options.connect_timeout.count());
  natsConnection_FlushTimeout(hb_conn, options.connect_timeout.count());
  sender = std::thread([this] { run_sender(); });
  heart = std::thread([this] { run_heart(); });
}

void NodeCore::shutdown() {
  {
    std::lock_guard lock(mu);
    if (closing) return;
    closing = true;
  }
  stop_cv.notify_all();
  out_cv.notify_all();
  if (heart.joinable()) heart.join();
  if (sender.joinable()) sender.join();  // drains what was queued
  if (conn) natsConnection_FlushTimeout(conn, 500);
  // Leaving on purpose: say so, so that peers need not wait out down_after.
  if (hb_conn) {
    Frame f;
    f.kind = Kind::down;
    f.incarnation = incarnation.load();
    f.id = incarnation.load();
    f.from = name;
    f.target = name;
    f.type = kLeft;
    publish_control(f, ctl_subject());
    natsConnection_FlushTimeout(hb_conn, 500);
  }
  closed = true;
  int expected_conns = 0;
  for (auto* c : {conn, hb_conn}) {
    if (c) {
      natsConnection_Close(c);
      ++expected_conns;
    }
  }
  {
    // Wait until cnats has returned from every callback it might still run on this core.
    std::unique_lock lock(mu);
    close_cv.wait_for(lock, std::chrono::seconds(5), [&] {
      return conns_closed >= expected_conns && subs_completed >= static_cast<int>(all_subs.size());
    });
  }
  {
    // Nothing may reach a subscription once it is destroyed (the proxy may still be
    // releasing a name when one of its actors ends).
    std::lock_guard lock(mu);
    name_subs.clear();
    data_sub = reply_sub = hb_sub = ctl_sub = nullptr;
  }
  for (auto* sub : all_subs) natsSubscription_Destroy(sub);
  all_subs.clear();
  for (auto* c : {conn, hb_conn}) {
    if (c) natsConnection_Destroy(c);
  }
  conn = hb_conn = nullptr;
  fail_all([](const Pending&) { return true; },
           [](const Pending&) {
             return std::make_exception_ptr(NodeDown("the asking node was closed"));
           });
  proxy.stop();
}

// -- entry points of the templates ----------------------------------------------------------------

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

void ask(const std::shared_ptr<NodeCore>& core, const Target& target, std::string_view type,
         std::string body, std::chrono::milliseconds deadline, ReplyFn done) {
  std::exception_ptr refused;
  {
    std::lock_guard lock(core->mu);
    if (core->closing) {
      refused = std::make_exception_ptr(NodeDown("the asking node is closed"));
    } else if (core->downs.count({target.node, target.incarnation}) != 0) {
      refused = std::make_exception_ptr(NodeDown("node " + target.node + " (incarnation " +
                                                 hex(target.incarnation) + ") was declared down"));
    }
  }
  if (!refused && !core->connected.load()) {
    refused = std::make_exception_ptr(NodeDown("this node is not connected to NATS right now"));
  }
  if (refused) {
    ++core->asks_failed;
    done({}, refused);
    return;
  }
  std::uint64_t inc = core->incarnation.load();
  std::uint64_t id = core->add_pending(
      Pending{target.node, target.incarnation, target.actor, std::move(done), {}}, deadline);
  Frame f;
  f.kind = Kind::ask;
  f.incarnation = inc;
  f.id = id;
  f.from = core->name;
  f.target = target.actor;
  f.type = type;
  f.body = body;
  if (!core->enqueue(target.node, target.incarnation,
                     core->data_subject(target.node, target.incarnation),
                     core->reply_prefix(inc) + "." + std::to_string(id), encode_frame(f), id)) {
    core->fail(id, std::make_exception_ptr(MailboxFull(
                       "the ask to node " + target.node +
                       " became a dead letter (its outbound queue is full, or it is down)")));
  }
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

// -- Node ----------------------------------------------------------------------------------------

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

void Node::unpublish(const std::string& name) {
  std::lock_guard lock(core_->mu);
  auto sub = core_->name_subs.find(name);
  if (sub != core_->name_subs.end() && !core_->closing) {
    natsSubscription_Unsubscribe(sub->second);
    core_->name_subs.erase(sub);
  }
  core_->published.erase(name);
}

const std::string& Node::name() const noexcept { return core_->name; }
std::uint64_t Node::incarnation() const noexcept { return core_->incarnation.load(); }
std::string Node::subject() const {
  return core_->data_subject(core_->name, core_->incarnation.load());
}
bool Node::connected() const noexcept { return core_->connected.load(); }

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
