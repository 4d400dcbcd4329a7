// internal/test_scheduler.hpp - the scheduler of a deterministic System. Never installed.
//
// No threads: whatever becomes runnable waits in a list until the test (System::run_once,
// run_until_idle, or an untimed Future::get on the test's thread) runs it, one turn at a
// time on the calling thread. Seed 0 runs them in the order they became ready; any other
// seed picks the next one pseudo-randomly, so a test can replay many interleavings and a
// failing seed reproduces exactly.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>

#include "troupe/detail/cell.hpp"

namespace troupe::detail {

class TestScheduler {
 public:
  explicit TestScheduler(std::uint64_t seed);
  TestScheduler(const TestScheduler&) = delete;
  TestScheduler& operator=(const TestScheduler&) = delete;

  /// Makes `r` runnable (it waits for run_one). Once stopped, runs it at once on this
  /// thread instead. Thread-safe, never blocks for long.
  void schedule(Runnable* r) noexcept;
  /// Runs one runnable on this thread, picked as the seed says. False if none was ready.
  bool run_one();
  /// Runnables waiting.
  std::size_t ready() const;
  /// Runs whatever is left, and from now on runs what is scheduled at once.
  void stop();

 private:
  mutable std::mutex mutex_;
  std::deque<Runnable*> ready_;
  std::mt19937_64 rng_;
  bool random_;
  std::atomic<bool> stopped_{false};
};

}  // namespace troupe::detail
