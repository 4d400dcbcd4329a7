// internal/registry.hpp - every live actor of a system, sharded. Never installed.
//
// Spawns and ends happen on every worker at once (a skynet tree spawns and ends a million
// actors a second), so one lock over one list would be the bottleneck. The registry is 32
// shards, each a lock, an intrusive list of cells and its own counters; a cell's shard
// follows from its address. Whole-system questions (count, join, snapshot) visit every
// shard; they are rare. Names live in one map with its own lock, touched only by named
// spawns.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "troupe/detail/cell.hpp"

namespace troupe::detail {

/// A lock for a few dozen instructions: spins, then yields the core. One atomic RMW to
/// lock and a plain store to unlock, against two RMWs and a call each for a mutex.
class SpinLock {
 public:
  void lock() noexcept {
    for (unsigned spins = 0; locked_.exchange(true, std::memory_order_acquire);) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins % 64 == 0) std::this_thread::yield();
      }
    }
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class Registry {
 public:
  enum class Refusal { none, closing, name_taken };

  /// Lists `cell` (under `name` if not empty), gives it an id and lets it run
  /// (Cell::born); refuses once closed or when the name is taken.
  Refusal add(Cell* cell, std::string_view name, bool daemon);
  /// Counts a cell's memory (a Ref may keep it long after it ended) against its shard.
  /// True for the first cell of an empty shard: the caller then pins what cells need.
  bool cell_made(const Cell* cell) noexcept {
    return shard_of(cell).cells.fetch_add(1, std::memory_order_relaxed) == 0;
  }
  /// True for the last cell of its shard: the caller lets go of the pin.
  bool cell_freed(const Cell* cell) noexcept {
    return shard_of(cell).cells.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }
  /// Unlists an ended cell. True when that emptied its shard of live or of non-daemon
  /// cells: only then can a whole-system count have reached zero.
  bool remove(Cell* cell) noexcept;
  /// No add succeeds after this; every add that succeeded before is visible to for_each.
  void close();
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  /// The live cell named `name`, or null. `use` runs with the names lock held.
  template <class F>
  auto with_name(std::string_view name, F use) const {
    std::lock_guard lock(names_mutex_);
    auto it = names_.find(name);
    return use(it == names_.end() ? nullptr : it->second);
  }
  /// Calls `visit(cell)` for every listed cell, one shard lock at a time.
  template <class F>
  void for_each(F visit) const {
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mutex);
      for (Cell* c = s.head; c != nullptr; c = c->next_) visit(c);
    }
  }

  std::size_t live() const noexcept;
  std::size_t nondaemon() const noexcept;
  std::uint64_t spawned() const noexcept;

 private:
  static constexpr std::size_t kShards = 32;
  static constexpr std::uint32_t kIdBlock = 1024;  // ids a shard takes from the global count

  struct alignas(64) Shard {
    mutable SpinLock mutex;
    Cell* head = nullptr;
    std::size_t live = 0;
    std::size_t nondaemon = 0;
    std::uint64_t spawned = 0;
    std::uint32_t next_id = 0;  // ids [next_id, id_end) are this shard's to hand out
    std::uint32_t id_end = 0;
    std::atomic<std::size_t> cells{0};  // cells of this shard not yet freed, live or not
  };
  /// A counter summed over the shards, each read under its lock.
  template <class Count>
  Count sum(Count Shard::*field) const noexcept;
  Shard& shard_of(const Cell* cell) noexcept {
    // Cells are at least 16-byte aligned; mix the address so neighbours spread out.
    auto bits = reinterpret_cast<std::uintptr_t>(cell) >> 4;
    return shards_[(bits * 0x9E3779B97F4A7C15ull) >> 59];  // top 5 bits: 32 shards
  }

  std::array<Shard, kShards> shards_;
  std::atomic<std::uint32_t> id_blocks_{0};
  std::atomic<bool> closed_{false};
  mutable std::mutex names_mutex_;
  std::unordered_map<std::string_view, Cell*> names_;
};

}  // namespace troupe::detail
