// test_scheduler.cpp - the deterministic System's scheduler: a list the test steps through.
#include "internal/test_scheduler.hpp"

#include "internal/scheduler.hpp"

namespace troupe::detail {

TestScheduler::TestScheduler(std::uint64_t seed) : rng_(seed), random_(seed != 0) {}

void TestScheduler::schedule(Runnable* r) noexcept {
  if (stopped_.load(std::memory_order_acquire)) {
    OutsideTurn outside;
    r->run();
    return;
  }
  std::lock_guard lock(mutex_);
  ready_.push_back(r);  // a deque grows in blocks; out of memory here ends the process
}

bool TestScheduler::run_one() {
  Runnable* r = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (ready_.empty()) return false;
    std::size_t i = random_ ? rng_() % ready_.size() : 0;
    r = ready_[i];
    ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  OutsideTurn outside;  // blocking waits inside the turn throw WouldDeadlock
  r->run();
  return true;
}

std::size_t TestScheduler::ready() const {
  std::lock_guard lock(mutex_);
  return ready_.size();
}

void TestScheduler::stop() {
  stopped_.store(true, std::memory_order_seq_cst);
  while (run_one()) {
  }
}

}  // namespace troupe::detail
