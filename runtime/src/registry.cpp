// registry.cpp - the sharded list of live actors (see internal/registry.hpp).
#include "internal/registry.hpp"

namespace troupe::detail {

Registry::Refusal Registry::add(Cell* cell, std::string_view name, bool daemon) {
  Shard& s = shard_of(cell);
  std::unique_lock lock(s.mutex);
  if (closed_.load(std::memory_order_relaxed)) return Refusal::closing;
  std::unique_lock<std::mutex> names;
  if (!name.empty()) {
    names = std::unique_lock(names_mutex_);
    if (!names_.emplace(name, cell).second) return Refusal::name_taken;
  }
  if (s.next_id == s.id_end) {
    s.next_id = id_blocks_.fetch_add(1, std::memory_order_relaxed) * kIdBlock + 1;
    s.id_end = s.next_id + kIdBlock;
  }
  cell->id_ = s.next_id++;
  cell->next_ = s.head;
  if (s.head != nullptr) s.head->prev_ = cell;
  s.head = cell;
  ++s.live;
  if (!daemon) ++s.nondaemon;
  ++s.spawned;
  // Still under the locks through which find() and shutdown reach a listed cell: the
  // birth may take its fast path (see Cell::born).
  cell->born();
  return Refusal::none;
}

bool Registry::remove(Cell* cell) noexcept {
  Shard& s = shard_of(cell);
  bool emptied = false;
  {
    std::lock_guard lock(s.mutex);
    if (cell->prev_ != nullptr) {
      cell->prev_->next_ = cell->next_;
    } else {
      s.head = cell->next_;
    }
    if (cell->next_ != nullptr) cell->next_->prev_ = cell->prev_;
    cell->prev_ = cell->next_ = nullptr;
    --s.live;
    if (!cell->daemon()) --s.nondaemon;
    emptied = s.live == 0 || s.nondaemon == 0;
  }
  if (std::string_view name = cell->name(); !name.empty()) {
    std::lock_guard names(names_mutex_);
    names_.erase(name);
  }
  return emptied;
}

void Registry::close() {
  // Taking every shard lock orders the flag against each add: an add either saw it, or
  // finished before and is listed.
  for (Shard& s : shards_) s.mutex.lock();
  closed_.store(true, std::memory_order_release);
  for (Shard& s : shards_) s.mutex.unlock();
}

template <class Count>
Count Registry::sum(Count Shard::*field) const noexcept {
  // Every shard locked at once: summed one at a time, an actor spawned into a shard
  // already counted by one that ends in a shard not yet counted would be missed, and
  // join() could return while it runs.
  for (const Shard& s : shards_) s.mutex.lock();
  Count n = 0;
  for (const Shard& s : shards_) n += s.*field;
  for (const Shard& s : shards_) s.mutex.unlock();
  return n;
}

std::size_t Registry::live() const noexcept { return sum(&Shard::live); }
std::size_t Registry::nondaemon() const noexcept { return sum(&Shard::nondaemon); }
std::uint64_t Registry::spawned() const noexcept { return sum(&Shard::spawned); }

}  // namespace troupe::detail
