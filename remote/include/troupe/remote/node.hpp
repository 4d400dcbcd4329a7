// troupe/remote/node.hpp - Node: this process's membership in a troupe cluster on NATS.
//
//   troupe::System system;
//   troupe::Node node(system, {.urls = {"nats://10.0.0.5:4222"}, .name = "worker-1"});
//   node.publish<CounterProtocol>(system.spawn<Counter>(), "counter");   // server side
//   auto counter = node.lookup<CounterProtocol>("counter").get(1s);      // client side
//   counter.tell(Add{1});
//
// A node owns two NATS connections (bulk traffic, and heartbeats on a path of their own),
// a sender thread that drains the bounded per-peer outbound queues (in batches), a
// heartbeat thread and a daemon proxy actor: what NATS delivers for the node's actors is
// handed to that actor with an ordinary tell (a lone tell or ask goes straight into its
// actor's mailbox when the proxy holds nothing older), so actor handlers never run on cnats
// threads (answers to this node's asks complete their futures on the cnats thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "troupe/future.hpp"
#include "troupe/options.hpp"
#include "troupe/ref.hpp"
#include "troupe/remote/detail/core.hpp"
#include "troupe/remote/errors.hpp"
#include "troupe/remote/events.hpp"
#include "troupe/remote/protocol.hpp"
#include "troupe/remote/remote_ref.hpp"

namespace troupe {

class System;

/// How Node::publish keeps a name to one holder cluster-wide (README, "Names").
enum class NameRegistry {
  /// The JetStream key-value bucket when the NATS server offers JetStream; otherwise
  /// best_effort, said once on stderr at start (Node::names_agreed() tells which).
  automatic,
  /// Always the JetStream bucket: a Node whose server has no JetStream throws ConnectError.
  jetstream,
  /// No bucket: publish asks whoever listens on the name, so two publishes of one name in
  /// the same instant on two nodes can both succeed.
  best_effort,
};

/// How a Node joins its cluster. Aggregate: `Node node(system, {.urls = {...}, .name = "a"});`
struct NodeOptions {
  /// NATS servers to try (any member of a NATS cluster will do).
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  /// Nodes see each other only within one cluster name (it prefixes every subject).
  std::string cluster = "troupe";
  /// This node's name, unique in the cluster; empty: "<hostname>-<pid>".
  std::string name{};
  /// Credentials passed to NATS: a token, or a user and password.
  std::string token{};
  std::string user{};
  std::string password{};
  /// TLS: a CA file to trust turns TLS on; a certificate and key authenticate this node.
  std::string tls_ca_file{};
  std::string tls_cert_file{};
  std::string tls_key_file{};
  /// How often this node says it is alive, on its heartbeat connection.
  std::chrono::milliseconds heartbeat{100};
  /// A node not heard for this long is declared down, for good (see README, "Failure
  /// detection"): shorter detects faster and risks declaring a paused node down.
  std::chrono::milliseconds down_after{1000};
  /// The deadline of an ask (and a lookup) that names none.
  std::chrono::milliseconds ask_timeout{5000};
  /// How long the constructor tries to reach NATS before throwing ConnectError.
  std::chrono::milliseconds connect_timeout{2000};
  /// Bound on each peer's outbound queue (messages and bytes). What a full queue does,
  /// as for bounded mailboxes: `reject` and `drop_newest` make the new send a dead letter
  /// (tell returns false, an ask fails with MailboxFull); `drop_oldest` evicts the oldest
  /// queued frames instead (dead letters; an evicted ask fails with MailboxFull); `block`
  /// is refused (a send never blocks). Every dead letter is counted per peer.
  std::size_t outbound_max_messages = 65536;
  std::size_t outbound_max_bytes = std::size_t{64} << 20;
  Overflow outbound_overflow = Overflow::reject;
  /// Bound on what NATS may hold for this node's inbound subscription before dropping
  /// and in the proxy actor's mailbox (a slow node drops instead of growing); drops are
  /// counted in stats().slow_drops. A batch of tells (up to 64 KB) counts as one message.
  int inbound_max_messages = 1 << 17;
  int inbound_max_bytes = 128 << 20;
  /// Where names are agreed (see NameRegistry), and the replicas of the JetStream bucket
  /// ("troupe_names_<cluster>") when this node is the one that creates it.
  NameRegistry names = NameRegistry::automatic;
  int names_replicas = 1;
  /// A lone tell or ask (not part of a batch) arriving while the proxy actor holds nothing
  /// older is decoded and put into its actor's mailbox on the NATS thread, one hand-off
  /// fewer; order and fencing are kept either way. false: everything goes through the
  /// proxy actor (bench/remote_bench.cpp compares the two).
  bool deliver_on_nats_thread = true;
  /// Print a line for malformed or unknown frames and drops (rate-limited).
  bool log_drops = true;
};

/// Traffic with one peer node (all incarnations of that name).
struct PeerStats {
  std::string node;
  std::uint64_t incarnation = 0;  ///< the latest one heard
  bool up = false;
  std::uint64_t sent = 0;          ///< frames handed to NATS for it
  std::uint64_t received = 0;      ///< frames from it delivered
  std::uint64_t dropped = 0;       ///< frames from it dropped (fenced incarnation, refused)
  std::uint64_t dead_letters = 0;  ///< sends to it that never left (down, queue full)
  std::size_t queued = 0;          ///< in its outbound queue now
};

/// Counters of a whole node. Every field only grows, except the current ones.
struct NodeStats {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;       ///< inbound dropped: fenced sender, refused by the actor
  std::uint64_t dead_letters = 0;  ///< outbound that never left
  std::uint64_t malformed = 0;     ///< frames that did not parse or decode
  std::uint64_t unknown = 0;       ///< well-formed frames for an unknown actor or type
  std::uint64_t slow_drops = 0;    ///< dropped by NATS: this node did not keep up
  std::uint64_t asks_failed = 0;   ///< asks this node made that failed (any error)
  std::uint64_t disconnects = 0;   ///< times the bulk connection to NATS was lost
  std::uint64_t incarnation = 0;   ///< the current one
  std::uint64_t fenced = 0;        ///< times this node learnt it had been declared down
};

/// This process's node in a troupe cluster. Not copyable. Thread-safe.
class TROUPE_API Node {
 public:
  /// Connects to NATS (both connections), subscribes and starts heartbeating.
  /// Throws ConnectError (unreachable, refused credentials, bad TLS files) with NATS's
  /// reason, and std::invalid_argument for unusable options.
  Node(System& system, NodeOptions options);
  /// Leaves the cluster: stops heartbeating, flushes what is queued (briefly), closes.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  /// Makes `actor` reachable cluster-wide as `name` under protocol P (checked at compile
  /// time: the actor handles every message of P and answers each with P's type).
  /// Throws NameTaken if a live actor elsewhere (or here) holds the name, NodeDown if the
  /// name table cannot be reached. With agreed names (names_agreed()) the claim is one
  /// write to JetStream, and of simultaneous publishes of one name exactly one wins; a name
  /// whose holder's node was declared down is taken over. Blocks for a few NATS round
  /// trips, and up to down_after when the name's holder is a node this one has not heard
  /// from yet (alive or long gone); call it from a plain thread or on_start.
  template <class P, class T>
  void publish(const Ref<T>& actor, std::string name) {
    static_assert(Implements<T, P>,
                  "troupe: the actor does not implement the protocol: it must handle every "
                  "message listed in Protocol<...> and answer each with the listed type");
    detail::remote::Published published;
    published.actor = actor;
    add_handlers(published, actor, static_cast<P*>(nullptr));
    detail::remote::publish(*core_, std::move(name), std::move(published));
  }
  /// Stops answering for `name` here and releases it (the actor itself is not stopped).
  /// Blocks for a NATS round trip with agreed names.
  void unpublish(const std::string& name);

  /// Finds the actor published as `name`; the future fails with NoSuchActor (nobody holds
  /// it), RemoteTimeout or NodeDown. Never blocks.
  template <class P>
  Future<RemoteRef<P>> lookup(std::string name, std::chrono::milliseconds deadline = {}) {
    auto promise = std::make_shared<Promise<RemoteRef<P>>>();
    Future<RemoteRef<P>> future = promise->future();
    auto core = core_;
    detail::remote::lookup(core_, std::move(name), deadline,
                           [promise, core](detail::remote::Target target, std::exception_ptr e) {
                             if (e) {
                               promise->set_exception(e);
                             } else {
                               promise->set_value(RemoteRef<P>(core, std::move(target)));
                             }
                           });
    return future;
  }

  /// `watcher` gets one RemoteDown when the remote actor stops or fails, or its node is
  /// declared down (at once if that already happened). W must handle RemoteDown.
  template <class P, class W>
  requires Handles<W, RemoteDown>
  void watch(const RemoteRef<P>& remote, const Ref<W>& watcher) {
    detail::remote::watch(*core_, remote.target(),
                          [watcher](const RemoteDown& d) { watcher.tell(d); });
  }

  /// `subscriber` gets MemberUp, MemberDown and Fenced events from now on (each for the
  /// types it handles).
  template <class W>
  void subscribe_members(const Ref<W>& subscriber) {
    detail::remote::MemberSink sink;
    if constexpr (Handles<W, MemberUp>)
      sink.up = [subscriber](const MemberUp& e) { subscriber.tell(e); };
    if constexpr (Handles<W, MemberDown>)
      sink.down = [subscriber](const MemberDown& e) { subscriber.tell(e); };
    if constexpr (Handles<W, Fenced>)
      sink.fenced = [subscriber](const Fenced& e) { subscriber.tell(e); };
    detail::remote::subscribe_members(*core_, std::move(sink));
  }

  // -- identity and observability --------------------------------------------------------

  /// This node's name and current incarnation (it changes when the node is fenced).
  const std::string& name() const noexcept;
  std::uint64_t incarnation() const noexcept;
  /// The NATS subject this incarnation receives tells and asks on (for tools and tests).
  std::string subject() const;
  /// True if publish claims names in the cluster's JetStream bucket (NameRegistry).
  bool names_agreed() const noexcept;
  /// True while the bulk connection to NATS is up.
  bool connected() const noexcept;
  NodeStats stats() const;
  /// One row per peer node ever heard from or sent to.
  std::vector<PeerStats> peers() const;

 private:
  template <class T, class... Entries>
  static void add_handlers(detail::remote::Published& out, const Ref<T>& actor,
                           Protocol<Entries...>*) {
    (add_handler<T, typename Entries::message, typename Entries::result>(out, actor), ...);
  }
  template <class T, class M, class R>
  static void add_handler(detail::remote::Published& out, const Ref<T>& actor) {
    static_assert(HasWireName<M>,
                  "troupe: a message of this protocol has no wire codec: add "
                  "TROUPE_REMOTE_MESSAGE(Type, \"name.v1\")");
    static_assert(WireEncodable<M> && WireEncodable<R>,
                  "troupe: cereal cannot serialize a message or answer of this protocol");
    out.by_type.emplace(std::string(WireName<M>::value),
                        [actor](std::string_view body, detail::remote::ReplyFn* reply) {
                          M message = detail::remote::decode<M>(body);
                          if (reply == nullptr) return actor.tell(std::move(message));
                          Future<R> answer = actor.ask(std::move(message));
                          answer.on_ready([done = std::move(*reply)](const Future<R>& f) {
                            if (auto error = f.error()) {
                              done({}, error);
                            } else if constexpr (std::is_void_v<R>) {
                              done({}, nullptr);
                            } else {
                              done(detail::remote::encode(f.get()), nullptr);
                            }
                          });
                          return true;
                        });
  }

  std::shared_ptr<detail::remote::NodeCore> core_;
};

}  // namespace troupe
