// internal/timers.hpp - the timer service: one heap, one thread. Never installed.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "troupe/clock.hpp"
#include "troupe/timer.hpp"

namespace troupe::detail {

/// Keeps every pending timer of a System in a min-heap and fires each when due: on its own
/// thread for the steady clock, inside ManualClock::advance for a manual one.
class TimerService {
 public:
  explicit TimerService(std::shared_ptr<Clock> clock);
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  const Clock& clock() const noexcept { return *clock_; }
  /// Adds a timer due `delay` from now. Thread-safe. After stop(), the timer is dropped.
  void add(std::shared_ptr<TimerEntry> entry, Clock::duration delay);
  /// Fires every timer due by now. Thread-safe; the manual clock calls it.
  void fire_due();
  /// Stops for good: pending timers are dropped and never fire.
  void stop();
  std::size_t pending() const;

 private:
  void loop();
  std::vector<std::shared_ptr<TimerEntry>> take_due(Clock::time_point now);

  std::shared_ptr<Clock> clock_;
  mutable std::mutex mutex_;
  std::mutex fire_mutex_;  // one firing pass at a time keeps due order across threads
  std::condition_variable changed_;
  std::vector<std::shared_ptr<TimerEntry>> heap_;
  std::uint64_t sequence_ = 0;
  bool stopped_ = false;
  std::mutex join_mutex_;
  std::thread thread_;
};

}  // namespace troupe::detail
