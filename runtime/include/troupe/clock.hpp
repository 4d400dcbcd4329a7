// troupe/clock.hpp - where timers get the time: the steady clock, or a manual one for tests.
//
//   auto clock = std::make_shared<troupe::ManualClock>();
//   troupe::System system({.clock = clock});
//   ... system.after(5s, ref, Tick{}) ...
//   clock->advance(5s);   // the tick is in ref's mailbox when this returns
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "troupe/export.hpp"

namespace troupe {

namespace detail {
struct Access;
}

/// A source of time for the timer service. Thread-safe.
class TROUPE_API Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  /// True if time moves only when told to (timers then fire inside `advance`).
  virtual bool manual() const noexcept { return false; }
};

/// The real, monotonic clock. The default.
class TROUPE_API SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

/// A clock that stands still until `advance` moves it, for timer tests without sleeping.
/// Thread-safe.
class TROUPE_API ManualClock final : public Clock {
 public:
  time_point now() const override;
  bool manual() const noexcept override { return true; }
  /// Moves time forward by `d` (>= 0) and fires every timer now due, in due order, before
  /// returning: their messages are in the mailboxes when this returns.
  void advance(duration d);

 private:
  friend struct detail::Access;  // the timer services this clock drives subscribe
  void subscribe(void* key, std::function<void()> on_advance);
  void unsubscribe(void* key);

  mutable std::mutex mutex_;
  time_point now_{};
  std::vector<std::pair<void*, std::function<void()>>> listeners_;
};

}  // namespace troupe
