// troupe/remote/queue_options.hpp - how a ClusterQueue is built, and what it reports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "troupe/work_queue.hpp"  // WhenFull, QueueFull: the same back-pressure as WorkQueue

namespace troupe {

/// How a ClusterQueue is built. Aggregate:
/// `ClusterQueue<Job> q({.urls = {url}, .name = "jobs", .capacity = 1000});`
///
/// Every process that opens the same queue (same `name` on the same NATS servers) must pass
/// the same `capacity`, `ack_wait`, `max_deliver`, `replicas` and `file_storage`: the first
/// one creates the JetStream streams and the consumer, and the others bind to them; a
/// different setting is refused with a clear error rather than silently ignored.
struct ClusterQueueOptions {
  /// NATS servers to try (any member of a NATS cluster will do).
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  /// The queue's name: letters, digits, '-' and '_'. The stream is TROUPE_Q_<name>, items go
  /// to the subject troupe.q.<name>, dead letters to troupe.q.<name>.dead.
  std::string name = "jobs";
  /// Credentials passed to NATS: a token, or a user and password.
  std::string token{};
  std::string user{};
  std::string password{};
  /// Most items not yet done (queued or leased) at once; 0 means unbounded.
  std::size_t capacity = 0;
  /// What `put` does when the queue is full: wait for room (up to its timeout), or reject
  /// at once with QueueFull.
  WhenFull when_full = WhenFull::wait;
  /// A lease not settled (done, retry, in_progress) within this time is taken back and the
  /// item delivered again, to any worker.
  std::chrono::milliseconds ack_wait{30000};
  /// Deliveries an item may have; the next failure (or lapse) sends it to the dead letters.
  int max_deliver = 5;
  /// JetStream replicas of the streams (1, or up to 5 in a NATS cluster).
  int replicas = 1;
  /// File storage survives a server restart; memory storage is faster and does not.
  bool file_storage = true;
  /// Puts with the same id within this window are stored once (duplicate suppression).
  std::chrono::milliseconds duplicate_window{120000};
  /// Items this process may fetch ahead and hold for its next gets (their ack_wait runs
  /// meanwhile): while gets keep coming (within a second), the holding is topped up when
  /// half gone, so a busy worker finds its next item here instead of waiting for a round
  /// trip. An item held for half its ack_wait is given back. 1: none held ahead.
  int prefetch = 1;
  /// Puts of this process in flight (sent, not yet acknowledged by JetStream) before a put
  /// blocks for room.
  int max_pending_puts = 4096;
  /// How long the constructor tries to reach NATS and JetStream (a new NATS cluster may
  /// still be electing its JetStream leader) before throwing ConnectError.
  std::chrono::milliseconds connect_timeout{2000};
  /// Deadline of each JetStream request (stream info, a put's acknowledgement, which is
  /// then sent again with the same id).
  std::chrono::milliseconds request_timeout{2000};
};

/// The options of one put. Aggregate: `queue.put(job, {.id = job.url})`.
struct PutOptions {
  /// The message id: a second put with the same id within the duplicate window is
  /// acknowledged and not stored again. Empty: a fresh id of this process.
  std::string id{};
  /// How long a put may wait for room in a full queue (`WhenFull::wait`) or for JetStream
  /// to acknowledge it (through reconnects); then it fails with TimeoutError.
  std::chrono::milliseconds timeout = std::chrono::milliseconds::max();
};

/// A snapshot of a queue, from JetStream. Counted over every process using the queue.
struct ClusterQueueStats {
  std::uint64_t items = 0;         ///< put and not yet done (queued or leased)
  std::uint64_t leased = 0;        ///< delivered, not yet settled
  std::uint64_t undelivered = 0;   ///< waiting for a worker
  std::uint64_t redelivered = 0;   ///< deliveries that were not the first, now outstanding
  std::uint64_t dead_letters = 0;  ///< in the dead-letter stream
  std::uint64_t stored = 0;        ///< items ever stored (the stream's last sequence number)
  std::uint64_t done = 0;          ///< items done: stored, less those left and the dead letters
  std::uint64_t deliveries = 0;    ///< deliveries ever made, first ones and again
  std::uint64_t redeliveries = 0;  ///< deliveries ever made that were not an item's first
};

}  // namespace troupe
