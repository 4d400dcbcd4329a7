// troupe/remote/detail/queue_core.hpp - the untyped engine behind ClusterQueue<T>: bytes in,
// bytes out, over one NATS connection and JetStream (remote/src/cluster_queue*.cpp).
// ClusterQueue<T> is a thin typed layer over it (encode, decode); nothing here is a template.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/export.hpp"
#include "troupe/future.hpp"
#include "troupe/remote/queue_options.hpp"

namespace troupe {
class System;
}

namespace troupe::detail::cq {

/// One delivery of one item, held by a worker until it settles it. Thread-safe.
class TROUPE_API LeaseHandle {
 public:
  virtual ~LeaseHandle();
  /// Acknowledges the delivery: the item leaves the queue.
  virtual Future<void> done() = 0;
  /// Gives the item back (redelivered after `delay`), or dead-letters it with `error` if
  /// this was its last allowed delivery.
  virtual Future<void> retry(std::string error, std::chrono::milliseconds delay) = 0;
  /// Restarts the ack_wait clock of this delivery.
  virtual void in_progress() = 0;
  /// Sends to the dead letters now with `error`, whatever the delivery count.
  virtual Future<void> dead_letter(std::string error) = 0;

  /// The message id it was put with (read from the message's headers on first use).
  virtual const std::string& message_id() = 0;

  std::uint64_t deliveries = 0;  ///< 1 on the first delivery
  std::uint64_t sequence = 0;    ///< the item's sequence number in the stream
};

/// What a get hands the typed layer: the encoded item and its lease. `data` points into
/// the message the lease holds: valid while `handle` is.
struct RawLease {
  std::string_view data;
  std::shared_ptr<LeaseHandle> handle;
};

/// A dead letter as stored: the encoded item, why it died, after how many deliveries.
struct RawDeadLetter {
  std::string data;
  std::string id;
  std::string error;
  std::uint64_t deliveries = 0;
  std::uint64_t sequence = 0;  ///< in the dead-letter stream
};

/// The queue's engine. Every member is thread-safe and never blocks on the network (what
/// must wait runs on the engine's own threads), except put, which may block while the
/// process has `max_pending_puts` puts unacknowledged.
class TROUPE_API QueueCore {
 public:
  /// Connects, creates (or binds to) the streams and the consumer, starts the threads.
  /// Throws ConnectError or std::invalid_argument (see ClusterQueue's constructor).
  static std::shared_ptr<QueueCore> open(ClusterQueueOptions options);
  virtual ~QueueCore();

  virtual Future<void> put(std::string data, std::string id, std::chrono::milliseconds timeout) = 0;
  virtual Future<RawLease> get(std::chrono::milliseconds timeout) = 0;
  /// Fills `out` with a lease on an item this process already holds (fetched ahead, see
  /// `prefetch`) and returns true, if there is one and no earlier get is waiting; else
  /// false. Never waits and never asks NATS: get's path without a future to complete.
  virtual bool try_get(RawLease& out) = 0;
  virtual Future<void> join() = 0;
  virtual Future<ClusterQueueStats> stats() = 0;
  virtual Future<std::vector<RawDeadLetter>> dead_letters() = 0;
  /// Stops the threads: waiting gets fail with Cancelled, prefetched items are given back,
  /// puts in flight get a moment to be acknowledged. Idempotent.
  virtual void close() = 0;
  virtual const ClusterQueueOptions& options() const = 0;
  /// Reports the queue's troupe_cluster_queue_* series among `system`'s metrics (in place
  /// of an earlier system's) until unobserve() or close().
  virtual void observe(System& system) = 0;
  virtual void unobserve() = 0;
};

}  // namespace troupe::detail::cq
