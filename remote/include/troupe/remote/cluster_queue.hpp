// troupe/remote/cluster_queue.hpp - ClusterQueue<T>: a work queue shared by many processes
// and hosts, on NATS JetStream. WorkQueue's feel, across machines.
//
//   struct Job { std::string url; template <class A> void serialize(A& a) { a(url); } };
//
//   troupe::ClusterQueue<Job> jobs({.urls = {"nats://10.0.0.5:4222"}, .name = "downloads"});
//   jobs.put(Job{url}, {.id = url}).get(5s);      // a producer; the id suppresses duplicates
//
//   troupe::Task<void> on(const Work&) {          // a worker actor, in any process
//     for (;;) {
//       troupe::Lease<Job> lease = co_await jobs.get();
//       co_await download(lease->url);          // idempotent: see README, "Cluster queue"
//       lease.done();                           // Python's task_done
//     }
//   }
//
//   jobs.join().get(10min);                       // every item put, anywhere, is done
//
// Delivery is at least once: a lease not settled within `ack_wait` (its worker died, hung
// or lost its connection) is taken back and the item delivered again, to any worker, up to
// `max_deliver` deliveries; then it goes to the dead letters with its last error. A job
// must therefore be safe to run twice (README, "Cluster queue: at least once").
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "troupe/future.hpp"
#include "troupe/remote/detail/queue_core.hpp"
#include "troupe/remote/errors.hpp"
#include "troupe/remote/queue_options.hpp"
#include "troupe/remote/wire.hpp"
#include "troupe/usage_error.hpp"

namespace troupe {

/// One delivery of one item to this worker. Move-only. Settle it exactly once: `done()`
/// when the job is finished, `retry(error)` when it failed; a lease dropped unsettled is
/// given back at once (as `retry("lease dropped without done()")`). Thread-safe.
template <class T>
class Lease {
 public:
  Lease(T item, std::shared_ptr<detail::cq::LeaseHandle> handle)
      : item_(std::move(item)), handle_(std::move(handle)) {}
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&&) noexcept = default;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// The item.
  T& item() noexcept { return item_; }
  const T& item() const noexcept { return item_; }
  T& operator*() noexcept { return item_; }
  const T& operator*() const noexcept { return item_; }
  T* operator->() noexcept { return &item_; }
  const T* operator->() const noexcept { return &item_; }

  /// This delivery's number: 1 the first time, more after failures and lapsed leases.
  std::uint64_t deliveries() const noexcept { return handle_->deliveries; }
  /// The item's sequence number in the queue's stream (unique per item put).
  std::uint64_t sequence() const noexcept { return handle_->sequence; }
  /// The id the item was put with (PutOptions::id, or a generated one).
  const std::string& id() const { return handle_->message_id(); }

  /// The job is finished: the item leaves the queue for good. Sends the acknowledgement
  /// and returns (never blocks); the future fails if it could not be sent (the item will
  /// then be delivered again: at least once). A second settle fails with UsageError.
  Future<void> done() const { return handle_->done(); }
  /// The job failed: deliver the item again after `delay` (to any worker), or, if this
  /// was delivery `max_deliver`, send it to the dead letters with `error`. Never blocks.
  Future<void> retry(std::string error = {}, std::chrono::milliseconds delay = {}) const {
    return handle_->retry(std::move(error), delay);
  }
  /// A long job is still running: restart this lease's ack_wait clock. Never blocks.
  void in_progress() const { handle_->in_progress(); }

 private:
  T item_;
  std::shared_ptr<detail::cq::LeaseHandle> handle_;
};

/// An item that exhausted its deliveries, read back from the dead-letter stream.
template <class T>
struct DeadLetter {
  T item{};
  std::string id;                ///< the id it was put with
  std::string error;             ///< the last error reported for it (retry), or why it lapsed
  std::uint64_t deliveries = 0;  ///< how many times it was delivered
};

/// A queue of items of type T shared by every process that opens it by name on the same
/// NATS servers. Copyable: copies share one connection. Thread-safe. T needs a cereal codec
/// (as remote messages do; see wire.hpp) and a default constructor.
template <class T>
class ClusterQueue {
  static_assert(WireEncodable<T> && !std::is_void_v<T>,
                "troupe: ClusterQueue<T> needs a cereal codec for T (a serialize member "
                "or function) and a default constructor");

 public:
  /// Connects to NATS and creates the queue's streams and consumer, or binds to them.
  /// Throws ConnectError (NATS unreachable, credentials refused, JetStream not enabled,
  /// the queue exists with other settings) and std::invalid_argument (a bad name, or a
  /// max_deliver, ack_wait, replicas or prefetch out of range). Blocks for a few round trips.
  explicit ClusterQueue(ClusterQueueOptions options)
      : owner_(std::make_shared<Owner>(detail::cq::QueueCore::open(std::move(options)))) {}

  /// Puts `item` in the queue. The future completes when JetStream has stored it (or has
  /// recognised its id as a duplicate). A full queue makes it wait for room up to
  /// `o.timeout` (then TimeoutError), or fail at once with QueueFull (WhenFull::reject).
  /// Through a lost connection it is sent again, with the same id, until `o.timeout`.
  Future<void> put(const T& item, PutOptions o = {}) const {
    std::string data;
    try {
      data = detail::remote::encode(item);
    } catch (const std::exception& e) {
      return Future<void>::failed(std::make_exception_ptr(
          CodecError(std::string("ClusterQueue::put: the item does not encode: ") + e.what())));
    }
    return core().put(std::move(data), std::move(o.id), o.timeout);
  }

  /// A lease on the next item, from any producer. Waits up to `timeout` for one (then
  /// TimeoutError); by default without limit. Inside an actor, `co_await` it; on a plain
  /// thread, `get(timeout)` the future. An item that does not decode as T is sent to the
  /// dead letters and this get fails with CodecError.
  ///
  ///   troupe::Lease<Job> lease = co_await jobs.get();     // in a Task handler
  ///   auto lease = jobs.get(1s).get(2s);                 // on a plain thread
  Future<Lease<T>> get(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) const {
    detail::cq::RawLease held;
    if (core().try_get(held)) {  // an item fetched ahead: a ready future, nothing to chain
      try {
        return Future<Lease<T>>::ready_with(lease_of(held));
      } catch (...) {
        return Future<Lease<T>>::failed(std::current_exception());
      }
    }
    return core().get(timeout).then([](const detail::cq::RawLease& raw) { return lease_of(raw); });
  }

  /// Completes when no item is left in the queue: every item put (by anyone) is done or
  /// dead-lettered, and every put of this process has been stored. At once if so now.
  Future<void> join() const { return core().join(); }

  /// Counts across the cluster, read from JetStream.
  Future<ClusterQueueStats> stats() const { return core().stats(); }

  /// The items in the dead-letter stream, oldest first, with their last errors. Items that
  /// no longer decode as T come back default-constructed, with the reason in `error`.
  Future<std::vector<DeadLetter<T>>> dead_letters() const {
    return core().dead_letters().then([](const std::vector<detail::cq::RawDeadLetter>& raw) {
      std::vector<DeadLetter<T>> out;
      out.reserve(raw.size());
      for (const auto& r : raw) {
        DeadLetter<T> d;
        d.id = r.id;
        d.error = r.error;
        d.deliveries = r.deliveries;
        try {
          d.item = detail::remote::decode<T>(r.data);
        } catch (const std::exception& e) {
          d.error += std::string(" (and the item does not decode: ") + e.what() + ")";
        }
        out.push_back(std::move(d));
      }
      return out;
    });
  }

  /// Shows this queue among `system`'s metrics, wherever they are read (troupe-observer's
  /// `/metrics` and its cluster panel): `troupe_cluster_queue_*` series labelled
  /// `queue="<name>"`, the cluster's counts (items, leases, redeliveries, dead letters, done)
  /// and this process's (puts, leases, settles). The cluster's are read from JetStream on the
  /// queue's own thread when a reader asks, at most every 250 ms; a reader waits at most
  /// 100 ms for them (then it gets the last reading), so nothing is asked of NATS while
  /// nobody reads. One system at a time: a second call moves the series. `system` must
  /// outlive the queue (its last copy) or the next unobserve(). Thread-safe.
  ///
  ///   troupe::System system;                    // TROUPE_OBSERVE=127.0.0.1:9100 ./app
  ///   troupe::ClusterQueue<Job> jobs({...});
  ///   jobs.observe(system);
  void observe(System& system) const { core().observe(system); }
  /// Takes the series off the system's metrics. Idempotent. Thread-safe.
  void unobserve() const { core().unobserve(); }

  /// The options the queue was opened with.
  const ClusterQueueOptions& options() const { return core().options(); }

 private:
  // Closes the engine when the last copy goes; leases keep what they need alive.
  struct Owner {
    explicit Owner(std::shared_ptr<detail::cq::QueueCore> c) : core(std::move(c)) {}
    ~Owner() { core->close(); }
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;
    std::shared_ptr<detail::cq::QueueCore> core;
  };
  detail::cq::QueueCore& core() const { return *owner_->core; }

  /// The typed lease, decoded in place from the message; an item that does not decode
  /// goes to the dead letters and this throws CodecError.
  static Lease<T> lease_of(const detail::cq::RawLease& raw) {
    try {
      return Lease<T>(detail::remote::decode<T>(raw.data), raw.handle);
    } catch (const std::exception& e) {
      std::string why = std::string("the item does not decode: ") + e.what();
      raw.handle->dead_letter(why);
      throw CodecError("ClusterQueue::get: " + why + " (sent to the dead letters)");
    }
  }

  std::shared_ptr<Owner> owner_;
};

}  // namespace troupe
