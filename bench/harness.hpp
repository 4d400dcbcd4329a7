// bench/harness.hpp - what every workload shares: sizes, clocks, checks and completion.
//
// A workload is a plain function `Sample run(const Config&)` per peer (troupe, CAF). It
// builds its own actor system, times only the work itself, checks its result and tears the
// system down. The driver (main.cpp) runs every measurement in a fresh child process, so
// one run's heap, threads and resident memory never leak into the next, and a wrong result
// can end that process at once (see wrong_result).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace bench {

/// The measured values of one run, one per row of its workload (spawn has two).
using Sample = std::vector<double>;

/// The exit status of a run whose result was wrong.
inline constexpr int kWrongResultStatus = 3;

/// A workload computed a wrong result (or never finished): says so on stderr and ends the
/// run's process with kWrongResultStatus right away, without unwinding: a runtime that lost
/// messages could otherwise hang in its own shutdown. Only for the forked run process.
[[noreturn]] void wrong_result(const std::string& why);

/// Calls wrong_result("<what>: got <got>, expected <want>") unless got == want.
void expect_equal(const char* what, std::uint64_t got, std::uint64_t want);

/// Sizes of every workload at a given --scale, and the worker count.
/// Full scale (1.0) is the sizes; every size stays >= 1 at tiny scales.
struct Config {
  double scale = 1.0;
  unsigned workers = 0;  // resolved to the core count by the driver
  unsigned batch = 64;   // troupe's messages per turn (SystemOptions::batch; 64 by default)

  std::uint64_t scaled(double full, std::uint64_t at_least = 1) const;

  std::uint64_t pingpong_rounds() const { return scaled(1'000'000); }
  static constexpr unsigned kFaninSenders = 8;
  std::uint64_t fanin_per_sender() const { return scaled(1'000'000); }
  static constexpr unsigned kFaninChunk = 100;  // messages a sender sends per turn
  static constexpr std::uint64_t kRingActors = 1'000;
  std::uint64_t ring_hops() const { return scaled(10'000'000); }
  /// skynet: 10^depth leaves (depth 6 = 1,000,000 leaves, 1,111,111 actors at full scale).
  unsigned skynet_depth() const;
  std::uint64_t skynet_leaves() const;
  std::uint64_t spawn_actors() const { return scaled(1'000'000, 100); }
  std::uint64_t ask_count() const { return scaled(1'000, 20); }
  static constexpr auto kAskPause = std::chrono::milliseconds(1);  // lets workers park
  /// Fresh memory touched per actor before spawn is timed (warm_memory): more than either
  /// peer uses (CAF 1,216 B, troupe 122 B).
  static constexpr std::size_t kSpawnWarmBytes = 1536;
  static constexpr unsigned kFjActors = 60;
  std::uint64_t fj_per_actor() const { return scaled(10'000); }
  std::uint64_t floor_items() const { return scaled(10'000'000); }
  std::uint64_t queue_items() const { return scaled(200'000, 4); }
  std::uint64_t sync_rounds() const { return scaled(200'000); }

  /// How long a run may take before it counts as hung.
  std::chrono::seconds deadline() const { return std::chrono::seconds(120); }
};

// -- measuring ------------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

/// Nanoseconds since `start`, as a double.
inline double ns_since(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

/// The 1-minute load average from /proc/loadavg (-1 if unreadable): other work on the
/// machine skews every number, so the driver prints it with the results.
double load_average();

/// Resident set size of this process in bytes, from /proc/self/statm.
std::uint64_t resident_bytes();

/// Touches `bytes` of fresh memory, then gives it back to the kernel. A workload that needs
/// much fresh memory calls it first, for either peer: on this KVM guest, memory the guest
/// has freed goes back to the host after a few seconds, and faulting it in again costs
/// 2-4 ns per byte, ten times what the runtime does with it. What was just touched and
/// freed is still backed, so the measurement sees the runtime, not the host's paging.
void warm_memory(std::size_t bytes);

/// Measures the spawn workload in two halves: time per spawn over both, resident bytes per
/// actor over the second half only (the marginal cost, free of one-time heap growth).
class SpawnMeter {
 public:
  explicit SpawnMeter(std::uint64_t n) : n_(n) {}
  std::uint64_t first(int half) const { return half == 0 ? 0 : n_ / 2; }
  std::uint64_t last(int half) const { return half == 0 ? n_ / 2 : n_; }
  void begin(int half) {
    // The first reading also pages in the code that reads (libstdc++'s streams): take it
    // before anything is measured, so that only actors grow the second half.
    std::uint64_t rss = resident_bytes();
    if (half == 1) rss_mid_ = rss;
    start_ = Clock::now();
  }
  void end(int half) {
    ns_ += ns_since(start_);
    if (half == 1) rss_end_ = resident_bytes();
  }
  /// {ns per spawn, resident bytes per actor}.
  std::vector<double> sample() const {
    auto second = static_cast<double>(last(1) - first(1));
    return {ns_ / static_cast<double>(n_),
            (static_cast<double>(rss_end_) - static_cast<double>(rss_mid_)) / second};
  }

 private:
  std::uint64_t n_;
  Clock::time_point start_;
  double ns_ = 0;
  std::uint64_t rss_mid_ = 0;
  std::uint64_t rss_end_ = 0;
};

/// The q-quantile (0..1) of `values` by nearest rank. `values` is reordered.
double quantile(std::vector<double>& values, double q);

/// The median of `values` (mean of the middle two for an even count).
double median(std::vector<double> values);

/// The sum of 0 + 1 + ... + (n - 1): what skynet must compute.
constexpr std::uint64_t sum_below(std::uint64_t n) { return n * (n - 1) / 2; }

/// The small computation each fjthrput message performs (Savina's sin/cos loop); returns
/// a value the receiver accumulates so the compiler cannot drop it.
double fj_work(double theta);

// -- completion -----------------------------------------------------------------------------

/// A one-shot countdown that a plain thread waits on; the runtime's threads call `arrive`.
/// Used by both peers where many actors finish independently (fjthrput), so the cost of
/// signalling completion is the same on both sides.
class Countdown {
 public:
  explicit Countdown(std::uint64_t count) : left_(count) {}
  /// Counts one arrival. Thread-safe; wakes the waiter on the last one.
  void arrive() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      done_ = true;
      cv_.notify_all();
    }
  }
  /// Waits until every arrival happened; returns false on timeout.
  bool wait(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }

 private:
  std::atomic<std::uint64_t> left_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

}  // namespace bench
