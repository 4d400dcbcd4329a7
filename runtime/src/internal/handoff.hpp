// internal/handoff.hpp - a turn that the plain thread waiting for its answer may run.
// Never installed.
//
// An ask from a plain thread that wakes an idle actor queues a Handoff instead of the actor,
// and offers it to the ask's future too (StateBase::offer_turn). Two parties may then start
// the actor's turn: a worker that takes the Handoff from the queue, and an untimed
// Future::get on the asking thread. The first to claim it runs the turn; the other only
// lets go of its reference. So a parked pool costs the asker no wake-up latency: on these
// VMs, waking a worker on a halted vCPU takes 45 to 250 us, running the handler here ~1 us.
#pragma once

#include <atomic>

#include "troupe/detail/cell.hpp"
#include "troupe/detail/pool.hpp"
#include "troupe/detail/state.hpp"

namespace troupe::detail {

class Handoff final : public Runnable, public AnsweringTurn, public Pooled {
 public:
  explicit Handoff(Cell* cell) noexcept : cell_(cell) {}
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;

  /// A worker took it from the queue: run the actor's turn unless the asker has.
  void run() noexcept override {
    if (claim()) cell_->run();
    release();
  }
  /// The asker waits (handoff.cpp): run the turn for its message here, unless a worker
  /// has claimed it.
  void run_here() noexcept override;
  /// Lets go of one of the two references (the queue's and the future's).
  void release() noexcept override {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  // The winner may touch the cell: it is alive while scheduled (its mailbox is active).
  bool claim() noexcept { return !claimed_.exchange(true, std::memory_order_acq_rel); }

  Cell* cell_;
  std::atomic<bool> claimed_{false};
  std::atomic<int> refs_{2};
};

}  // namespace troupe::detail
