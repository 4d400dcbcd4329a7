// troupe/timer.hpp - Timer: a cancellable handle to a delayed or repeating message.
//
//   troupe::Timer t = system.after(2s, ref, Timeout{});   // from anywhere
//   t.cancel();                                          // Timeout is never delivered
//
// Inside an actor, `after` and `every` (actor.hpp) make timers the actor owns: they are
// cancelled when it stops or restarts.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "troupe/clock.hpp"
#include "troupe/detail/envelopes.hpp"
#include "troupe/ref.hpp"

namespace troupe {

namespace detail {

/// One scheduled timer. The service keeps it in a heap; a delivered message checks
/// `cancelled` again, so a cancel wins even over a message already in the mailbox.
struct TimerEntry : std::enable_shared_from_this<TimerEntry> {
  virtual ~TimerEntry() = default;
  /// Puts the message in the target's mailbox; false if the target is gone.
  virtual bool fire() = 0;

  std::atomic<bool> cancelled{false};
  std::chrono::steady_clock::time_point due{};
  std::chrono::steady_clock::duration period{};  // zero: fires once
  std::uint64_t sequence = 0;                     // ties on `due` fire in creation order
};

template <class M>
struct TimerPayload {
  // A constructor, not an aggregate: clang 14 has no parenthesized aggregate init.
  template <class V>
  TimerPayload(std::shared_ptr<TimerEntry> e, V&& m) : entry(std::move(e)), message(std::forward<V>(m)) {}
  std::shared_ptr<TimerEntry> entry;
  M message;
};

template <class T, class M>
struct TimerEnvelope final : Carrying<TimerPayload<M>> {
  using Carrying<TimerPayload<M>>::Carrying;
  void deliver(Cell& target) override {
    TimerEntry& entry = *this->payload.entry;
    if (entry.cancelled.load(std::memory_order_acquire)) return;  // cancelled after firing
    if (entry.period.count() == 0) entry.cancelled.store(true, std::memory_order_release);
    deliver_tell<T>(target, this->payload.message);
  }
  const std::type_info* message_type() const noexcept override { return &typeid(M); }
};

template <class T, class M>
struct TimerOf final : TimerEntry {
  TimerOf(Ref<T> t, M m) : target(std::move(t)), message(std::move(m)) {}
  bool fire() override {
    return Access::cell(target)->enqueue(new TimerEnvelope<T, M>(shared_from_this(), message));
  }
  Ref<T> target;
  M message;
};

/// Hands a timer to the system's timer service (timers.cpp), due `delay` from the system
/// clock's now. `owner` (may be null) is the actor that cancels it when it stops.
TROUPE_API void schedule_timer(Core& core, std::shared_ptr<TimerEntry> entry, Cell* owner,
                    std::chrono::steady_clock::duration delay);

}  // namespace detail

/// A handle to a timer. Copyable; all copies refer to one timer. Thread-safe.
class Timer {
 public:
  Timer() = default;
  explicit Timer(std::shared_ptr<detail::TimerEntry> e) : entry_(std::move(e)) {}

  /// Cancels the timer: its message is not delivered from now on, even if it was already
  /// due (or queued). Repeating timers stop. Safe to call twice or on an empty handle.
  void cancel() noexcept {
    if (entry_) entry_->cancelled.store(true, std::memory_order_release);
  }
  /// True until cancelled or (for a one-shot timer) delivered.
  bool active() const noexcept {
    return entry_ && !entry_->cancelled.load(std::memory_order_acquire);
  }

 private:
  std::shared_ptr<detail::TimerEntry> entry_;
};

namespace detail {
template <class T, class M>
Timer make_timer(Core& core, Cell* owner, Clock::duration delay, Clock::duration period,
                 const Ref<T>& target, M&& message) {
  auto entry = std::make_shared<TimerOf<T, std::decay_t<M>>>(target, std::forward<M>(message));
  entry->period = period;
  Timer handle(entry);
  schedule_timer(core, std::move(entry), owner, delay);
  return handle;
}
}  // namespace detail

}  // namespace troupe
