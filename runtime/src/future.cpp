// future.cpp - the untyped half of Future/Promise: waiting, completing, callbacks.
#include <chrono>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "troupe/future.hpp"

#include "internal/handoff.hpp"

namespace troupe::detail {

namespace {
void refuse_on_worker() {
  if (on_worker_thread()) {
    throw WouldDeadlock(
        "Future::get/wait called in an actor's turn (a handler, or anything on a troupe "
        "worker thread), which would block the pool; "
        "co_await the future in a Task handler, use then(), or spawn the actor with "
        "dedicated_thread");
  }
}
}  // namespace

void StateBase::wait() {
  if (ready()) return;
  refuse_on_worker();
  // The ask that made this state woke an idle actor: if no worker has started its turn,
  // run it here rather than sleep until one wakes up (internal/handoff.hpp). Only an
  // untimed wait does this (a handler run here could outlast any deadline), and not inside
  // another actor's turn (a dedicated thread's).
  if (handoff_.load(std::memory_order_relaxed) != nullptr && current_cell() == nullptr) {
    if (Handoff* turn = handoff_.exchange(nullptr, std::memory_order_acquire)) {
      turn->take_over();
      if (ready()) return;
    }
  }
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return ready_.load(std::memory_order_relaxed); });
}

bool StateBase::wait_for(std::chrono::nanoseconds timeout) {
  if (ready()) return true;
  refuse_on_worker();
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return ready_.load(std::memory_order_relaxed); });
}

void StateBase::drop_handoff() noexcept {
  if (Handoff* turn = handoff_.exchange(nullptr, std::memory_order_acquire)) turn->release();
}

void StateBase::on_ready(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!ready_.load(std::memory_order_relaxed)) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

bool StateBase::set_exception(std::exception_ptr error) {
  return complete([&] { error_ = std::move(error); });
}

bool StateBase::finish(std::unique_lock<std::mutex>& lock) {
  ready_.store(true, std::memory_order_release);
  std::vector<std::function<void()>> callbacks = std::move(callbacks_);
  lock.unlock();
  cv_.notify_all();
  for (auto& callback : callbacks) callback();
  return true;
}

[[noreturn]] void throw_timeout(std::chrono::nanoseconds waited) {
  auto ms = std::chrono::duration_cast<std::chrono::duration<double, std::milli>>(waited);
  throw TimeoutError(fmt::format("no result within {:.1f} ms", ms.count()));
}

}  // namespace troupe::detail
