// remote/src/internal/name_store.hpp - NameStore, the cluster's table of published names in
// a NATS JetStream key-value bucket ("troupe_names_<cluster>"): one key per name, its value
// the holder's node and incarnation. JetStream orders every write to a key, so a claim made
// with "create if absent" or "update if still at revision R" has exactly one winner across
// the cluster; a release is a delete that only applies while the key is still at the
// revision its holder wrote, so a newer holder is never deleted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nats/nats.h>

namespace troupe::detail::remote {

/// The node incarnation an entry names, and the entry's revision.
struct NameHolder {
  std::string node;
  std::uint64_t incarnation = 0;
  std::uint64_t revision = 0;
  bool readable = true;  ///< false: the value is not one a node wrote (treat as nobody's)
};

/// The name table of one node. Thread-safe; every call but the *_later ones blocks for
/// NATS round trips (bounded by the wait given to open()).
class NameStore {
 public:
  enum class Outcome {
    claimed,  ///< the entry is ours, at `revision`
    held,     ///< someone holds it: see `holder`
    raced,    ///< it changed under us: read it again
    failed,   ///< JetStream did not answer or refused: see `error`
  };

  NameStore() = default;
  NameStore(const NameStore&) = delete;
  NameStore& operator=(const NameStore&) = delete;
  ~NameStore() { close(); }

  /// Binds to the cluster's bucket on `conn`, creating it if it does not exist yet, and
  /// starts the thread of release_later/release_held_by_later. Returns "" on success, or
  /// why JetStream cannot be used (not enabled on the server, no answer).
  std::string open(natsConnection* conn, const std::string& cluster, int replicas,
                   std::chrono::milliseconds wait);
  /// True once open() succeeded, until close().
  bool is_open() const noexcept { return kv_ != nullptr; }

  /// Claims `name` for (node, incarnation) if no entry holds it. On `held`, `holder` is
  /// the current entry.
  Outcome create(const std::string& name, const std::string& node, std::uint64_t incarnation,
                 std::uint64_t& revision, NameHolder& holder, std::string& error);
  /// Takes `name` over for (node, incarnation) if its entry is still at `last`.
  Outcome replace(const std::string& name, const std::string& node, std::uint64_t incarnation,
                  std::uint64_t last, std::uint64_t& revision, std::string& error);
  /// Deletes `name` if its entry is still at `revision`. False if it was not (or no answer).
  bool release(const std::string& name, std::uint64_t revision);

  /// release(), later, on the store's thread. Never blocks.
  void release_later(const std::string& name, std::uint64_t revision);
  /// Releases every name (node, incarnation) holds, later, on the store's thread (a node
  /// declared down). Never blocks.
  void release_held_by_later(const std::string& node, std::uint64_t incarnation);

  /// Finishes the queued releases of single names (each bounded by the wait; queued sweeps
  /// are dropped), stops the thread, unbinds. Call before the connection closes.
  /// Idempotent.
  void close();

  /// The bucket of a cluster and the key of a name: letters, digits and '-' kept, every
  /// other byte written "_XX" (hex), so that any subject token maps to a distinct key.
  static std::string bucket_for(const std::string& cluster);
  static std::string key_for(const std::string& name);

 private:
  struct Job {
    std::string name;  // a release of one name at `revision`, or (empty name) a sweep
    std::uint64_t revision = 0;
    std::string node;
    std::uint64_t incarnation = 0;
  };
  void run();
  bool stopping_now();
  void sweep(const std::string& node, std::uint64_t incarnation);
  bool read(const std::string& key, NameHolder& holder, natsStatus& status);
  bool delete_key(const std::string& key, std::uint64_t revision);

  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
  std::string bucket_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace troupe::detail::remote
