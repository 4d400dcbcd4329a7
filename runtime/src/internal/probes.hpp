// internal/probes.hpp - what troupe::probe switches on in a running System: a sampler of
// who sends to whom, and a clock on asks. Never installed.
//
// Each lives in the Core from its birth and is reached through an atomic pointer that is
// null while it is off: the runtime pays one relaxed load where it would act (a send that
// already took the out-of-line path, an ask), and the object a worker finds through the
// pointer was built before any worker started.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "troupe/probe.hpp"

namespace troupe::detail {

class StateBase;

/// Counts one send in kEvery by (sender id, receiver id).
class SendSampler {
 public:
  static constexpr std::uint32_t kEvery = 16;
  /// A send from the actor `from` (0: not an actor of this system) to `to`. Any thread.
  void sent(std::uint32_t from, std::uint32_t to) noexcept;
  /// The counts since the last take, and forgets them.
  std::vector<probe::SendSample> take();

 private:
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::uint64_t> edges_;  // from << 32 | to -> samples
};

/// Times one ask in kEvery from the send to the answer, into a histogram.
class AskClock {
 public:
  static constexpr std::uint32_t kEvery = 8;
  AskClock() : histogram_(std::make_shared<Histogram>()) {}
  /// An ask whose answer completes `answer` is being sent. Any thread; never throws.
  void asked(StateBase& answer) noexcept;
  probe::AskLatency read() const;

 private:
  struct Histogram {
    std::array<std::atomic<std::uint64_t>, probe::AskLatency::kBounds.size() + 1> counts{};
    std::atomic<std::uint64_t> sum_ns{0};
    void add(std::chrono::nanoseconds t) noexcept;
  };
  // Shared with the callbacks of the asks being timed: a future may be answered after
  // its System has gone.
  std::shared_ptr<Histogram> histogram_;
};

}  // namespace troupe::detail
