// remote/src/internal/node_core.hpp - NodeCore, the engine behind troupe::Node: its state
// and the work each part does, one source file per concept:
//
//   connection.cpp  the two NATS connections, their callbacks, start and shutdown
//   outbound.cpp    tell: a frame into the peer's bounded queue; the sender thread
//   inbound.cpp     what NATS delivers -> the proxy actor -> the published actor
//   asks.cpp        pending asks and lookups, deadlines, replies, completion
//   membership.cpp  heartbeats, failure detection, Down declarations, member events
//   fencing.cpp     rejoining as a new incarnation after being declared down
//   names.cpp       publish, lookup and the name subjects
//   name_store.cpp  the JetStream bucket that agrees who holds each name
//   watches.cpp     remote watches in both directions
//   log.cpp         the rate-limited log
//
// A remote tell, end to end: RemoteRef::tell (remote_ref.hpp) -> tell() and the sender
// thread (outbound.cpp) -> NATS -> on_bulk, ProxyActor, deliver() (inbound.cpp) -> the
// Dispatch Node::publish made (node.hpp) -> the actor's handler.
//
// Threads, and what each may touch:
//   cnats delivery threads  copy what arrives into an Inbound message and tell the proxy
//                           actor, or put a lone tell or ask straight into its actor's
//                           mailbox when the proxy holds nothing older (deliver_directly);
//                           heartbeats and control frames update the membership table
//                           under `mu` directly; they never run a troupe handler;
//   the proxy actor         parses frames, delivers to published actors, completes asks,
//                           handles Down declarations (one at a time, as any actor);
//   the sender thread       drains the outbound queue into the bulk connection;
//   the heartbeat thread    publishes heartbeats on the heartbeat connection, declares
//                           silent nodes down, expires ask deadlines, rejoins when fenced.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nats/nats.h>

#include "internal/frame.hpp"
#include "internal/identity.hpp"
#include "internal/name_store.hpp"
#include "internal/proxy.hpp"
#include "troupe/remote/node.hpp"

namespace troupe::detail::remote {

using SteadyClock = std::chrono::steady_clock;

/// The reason a node gives when it leaves on purpose (Node's destructor).
inline constexpr std::string_view kLeft = "left the cluster";

/// One frame waiting in a peer's outbound queue.
struct Outgoing {
  std::string subject;
  std::string reply;
  std::string data;
  std::uint64_t ask_id = 0;  // an ask to fail if the publish fails (or it is evicted)
};

/// What this node knows of another node (all incarnations of one name).
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
  bool ready = false;    // listed in NodeCore::ready_peers
  bool sending = false;  // frames of this peer are being published right now (FIFO: by one
                         // thread at a time; what is queued meanwhile waits for it)
  SteadyClock::time_point last_publish{};  // when a publish for it last began
};

/// An ask or a lookup this node made, until it is answered, fails or times out.
struct Pending {
  std::string node;  // empty for a lookup
  std::uint64_t incarnation = 0;
  std::string name;  // the looked-up name
  ReplyFn done;
  std::function<void(Target, std::exception_ptr)> found;
};

/// A local watcher of a remote actor.
struct WatchEntry {
  Target target;
  std::function<void(const RemoteDown&)> notify;
};

/// A remote node incarnation that watches one of our published actors.
struct RemoteWatcher {
  std::string node;
  std::uint64_t incarnation = 0;
};

struct NodeCore : std::enable_shared_from_this<NodeCore> {
  NodeCore(System& sys, NodeOptions opts) : system(sys), options(std::move(opts)) {}

  // -- state -----------------------------------------------------------------------------
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

  // Everything below is guarded by `mu` unless atomic.
  mutable std::mutex mu;
  std::condition_variable out_cv;    // the sender thread waits for work
  std::condition_variable stop_cv;   // the heartbeat thread's sleep
  std::condition_variable close_cv;  // shutdown waits for cnats to let go
  std::deque<Peer*> ready_peers;     // peers with queued frames, in the order they got some
  int inline_sends = 0;              // callers publishing on their own thread right now
                                     // (the sender thread outlives them at shutdown)
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
  std::map<std::string, std::uint64_t> name_revisions;  // our entries in the name table
  std::set<std::string> claiming;                       // names being published right now
  NameStore name_table;      // thread-safe itself; open only with agreed names
  bool names_agreed = false;  // set once in start()
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
  std::atomic<std::int64_t> proxy_backlog{0};  // Inbound told to the proxy, not yet handled
  std::atomic<int> direct_in_flight{0};        // deliver_directly calls running now
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

  /// The row of `node`, made on first use. Call with `mu` held.
  Peer& peer_locked(const std::string& node) {
    auto& slot = peers[node];
    if (!slot) {
      slot = std::make_unique<Peer>();
      slot->name = node;
    }
    return *slot;
  }

  // -- log.cpp ---------------------------------------------------------------------------
  /// A line on stderr about a drop or a fault, at most 5 a second (if options.log_drops).
  void log(const char* format, ...) __attribute__((format(printf, 2, 3)));

  // -- outbound.cpp ----------------------------------------------------------------------
  /// Queues one frame for `node`; false if it became a dead letter (closed, peer down, full
  /// under `reject`/`drop_newest`). Under `drop_oldest` a full queue evicts its oldest frame
  /// instead (a dead letter; an evicted ask fails with MailboxFull).
  bool enqueue(const std::string& node, std::uint64_t node_inc, std::string subject,
               std::string reply, std::string data, std::uint64_t ask_id);
  void fail_evicted(const std::vector<std::uint64_t>& ids);
  /// The sender thread: publishes what the queues hold until closing and drained.
  void run_sender();
  /// Publishes `frames` of `peer` in order, runs of tells to one subject as batches; fails
  /// the asks among frames NATS refused. Returns {published, refused}. Without `mu`.
  std::pair<std::uint64_t, std::uint64_t> publish_frames(Peer& peer, std::deque<Outgoing>& frames);
  /// Publishes one frame (a request if it has a reply subject).
  natsStatus publish_one(const Outgoing& o);
  /// With `mu` held, after a publish of `p` ended: hands what was queued meanwhile to the
  /// sender thread. True if the sender thread must be woken.
  bool publish_ended_locked(Peer& p);

  // -- inbound.cpp (on the proxy actor, and deliver_directly on the data NATS thread) ------
  /// On the NATS thread: delivers a lone tell or ask at once if nothing that came before it
  /// is still with the proxy. False: tell the proxy instead.
  bool deliver_directly(std::string_view bytes, const char* reply);
  void handle(const Inbound& in);
  void handle_frame(std::string_view bytes, const std::string& reply_subject);
  void deliver(const Frame& f, const std::string& reply_subject);

  // -- asks.cpp --------------------------------------------------------------------------
  /// Fails ask `id` with `error` if it is still pending.
  void fail(std::uint64_t id, std::exception_ptr error);
  /// Fails every pending ask that `pick` selects.
  void fail_all(const std::function<bool(const Pending&)>& pick,
                const std::function<std::exception_ptr(const Pending&)>& error);
  void expire_asks(SteadyClock::time_point now);
  std::uint64_t add_pending(Pending p, std::chrono::milliseconds deadline);
  /// The function that answers an ask received from `node`: encodes the answer or the
  /// error and queues it for the asker's reply subject.
  ReplyFn make_reply(std::string node, std::uint64_t node_inc, std::uint64_t id,
                     std::string reply_subject);
  /// A reply, failure or lookup answer arrived (on the NATS thread that received it).
  void complete(const Frame& f);

  // -- membership.cpp --------------------------------------------------------------------
  void publish_control(const Frame& f, const std::string& subject);
  void declare_down(const std::string& node, std::uint64_t inc, const std::string& reason,
                    bool broadcast);
  void heard(const Frame& f);
  void check_members(SteadyClock::time_point now);
  /// The heartbeat thread.
  void run_heart();
  /// A node incarnation was declared down (on the proxy actor).
  void handle_down(const DeclaredDown& d);

  // -- fencing.cpp -----------------------------------------------------------------------
  void rejoin();

  // -- names.cpp -------------------------------------------------------------------------
  void unpublish(const std::string& name);
  /// Opens the name table as options.names says (in start()); throws ConnectError.
  void open_names();
  /// Forgets `name` (with `mu` held) and returns its table revision to release, or 0.
  std::uint64_t forget_name_locked(const std::string& name);

  // -- watches.cpp (on the proxy actor) ----------------------------------------------------
  void local_actor_ended(const Down& d);
  void watched_actor_ended(const Frame& f);
  void add_remote_watcher(const Frame& f);
  void send_actor_down(const std::string& actor, const RemoteWatcher& w, const std::string& reason);

  // -- connection.cpp --------------------------------------------------------------------
  void start();
  void shutdown();
  natsSubscription* subscribe(natsConnection* c, const std::string& subject, natsMsgHandler cb);
};

// -- cnats callbacks (cnats threads: never run troupe handlers here) ------------------------
void on_bulk(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);       // inbound
void on_lookup(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure);  // names
void on_heartbeat(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);  // membership
void on_control(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);    // membership

}  // namespace troupe::detail::remote
