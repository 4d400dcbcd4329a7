// timers.cpp - the timer service and the manual clock.
#include "internal/timers.hpp"

#include <algorithm>

#include "internal/core.hpp"

namespace troupe {

// -- ManualClock -------------------------------------------------------------------------------

ManualClock::time_point ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

void ManualClock::advance(duration d) {
  if (d.count() < 0) throw std::invalid_argument("ManualClock::advance: time only goes forward");
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mutex_);
    now_ += d;
    for (auto& [key, fn] : listeners_) listeners.push_back(fn);
  }
  for (auto& fn : listeners) fn();
}

void ManualClock::subscribe(void* key, std::function<void()> on_advance) {
  std::lock_guard lock(mutex_);
  listeners_.emplace_back(key, std::move(on_advance));
}

void ManualClock::unsubscribe(void* key) {
  std::lock_guard lock(mutex_);
  std::erase_if(listeners_, [&](auto& l) { return l.first == key; });
}

namespace detail {

namespace {
// A min-heap on (due, sequence): std heap functions build max-heaps, so compare reversed.
bool later(const std::shared_ptr<TimerEntry>& a, const std::shared_ptr<TimerEntry>& b) {
  if (a->due != b->due) return a->due > b->due;
  return a->sequence > b->sequence;
}
}  // namespace

// -- TimerService ------------------------------------------------------------------------------

TimerService::TimerService(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {
  if (!clock_) clock_ = std::make_shared<SteadyClock>();
  if (clock_->manual()) {
    Access::subscribe(static_cast<ManualClock&>(*clock_), this, [this] { fire_due(); });
  } else {
    thread_ = std::thread([this] { loop(); });
  }
}

TimerService::~TimerService() {
  stop();
  if (clock_->manual()) Access::unsubscribe(static_cast<ManualClock&>(*clock_), this);
}

void TimerService::add(std::shared_ptr<TimerEntry> entry, Clock::duration delay) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    entry->due = clock_->now() + std::max(delay, Clock::duration::zero());
    entry->sequence = ++sequence_;
    heap_.push_back(std::move(entry));
    std::push_heap(heap_.begin(), heap_.end(), later);
  }
  changed_.notify_one();
}

std::vector<std::shared_ptr<TimerEntry>> TimerService::take_due(Clock::time_point now) {
  std::vector<std::shared_ptr<TimerEntry>> due;
  while (!heap_.empty() && heap_.front()->due <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    due.push_back(std::move(heap_.back()));
    heap_.pop_back();
  }
  return due;
}

void TimerService::fire_due() {
  std::lock_guard firing(fire_mutex_);
  for (;;) {
    std::vector<std::shared_ptr<TimerEntry>> due;
    Clock::time_point now = clock_->now();
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      due = take_due(now);
    }
    if (due.empty()) return;
    for (auto& e : due) {
      if (e->cancelled.load(std::memory_order_acquire)) continue;
      bool delivered = e->fire();
      if (!delivered || e->period.count() == 0) continue;
      // Repeating: next slot on the period grid; slots already missed are skipped.
      Clock::time_point next = e->due + e->period;
      if (next <= now) next = now + e->period;
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      e->due = next;
      e->sequence = ++sequence_;
      heap_.push_back(std::move(e));
      std::push_heap(heap_.begin(), heap_.end(), later);
    }
  }
}

void TimerService::loop() {
  std::unique_lock lock(mutex_);
  while (!stopped_) {
    if (heap_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto due = heap_.front()->due;
    if (changed_.wait_until(lock, due) == std::cv_status::no_timeout) continue;
    lock.unlock();
    fire_due();
    lock.lock();
  }
}

void TimerService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& e : heap_) e->cancelled.store(true, std::memory_order_release);
    heap_.clear();
  }
  changed_.notify_all();
  // Join the thread here, so nothing it still holds (timers it was firing, and through
  // them actors and the core) is let go on it after shutdown. If the last reference to
  // the core ends on this very thread, it cannot join itself: let it finish detached.
  std::lock_guard joining(join_mutex_);
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
}

std::size_t TimerService::pending() const {
  std::lock_guard lock(mutex_);
  return heap_.size();
}

void schedule_timer(Core& core, std::shared_ptr<TimerEntry> entry, Cell* owner,
                    Clock::duration delay) {
  if (owner != nullptr) core.own_timer(*owner, entry);
  core.timers().add(std::move(entry), delay);
}

}  // namespace detail
}  // namespace troupe
