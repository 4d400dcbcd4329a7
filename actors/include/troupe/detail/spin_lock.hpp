// troupe/detail/spin_lock.hpp - SpinLock: the short lock of the system actors' shared
// cores. Not public API.
#pragma once

#include <atomic>
#include <thread>

#include "troupe/detail/contention.hpp"

namespace troupe::detail {

/// The lock of a system actor's shared core (a WorkQueue's items, an Event's waiters):
/// held for a push or a pop, so a thread that finds it taken spins (and yields after a
/// while) instead of sleeping in the kernel. One atomic exchange to take it, a plain
/// release store to let go: half the locked instructions of a mutex, and no futex call
/// when two threads on two cores meet on it. A lock found taken is counted for the pool
/// (note_contention): workers that keep meeting here run faster gathered on one core.
/// BasicLockable.
class SpinLock {
 public:
  void lock() noexcept {
    if (!taken_.exchange(true, std::memory_order_acquire)) [[likely]] return;
    note_contention();
    while (taken_.exchange(true, std::memory_order_acquire)) {
      for (unsigned spins = 0; taken_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();  // the holder was preempted: let it run
        }
      }
    }
  }
  void unlock() noexcept { taken_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> taken_{false};
};

}  // namespace troupe::detail
