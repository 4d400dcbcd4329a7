// supervision.cpp - what a failure does (OnFailure): stop, restart from the spawn
// arguments within an intensity limit, resume, or escalate to the parent. Runs inside the
// failing actor's own turn.
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "internal/current.hpp"
#include "internal/runtime_messages.hpp"

namespace troupe::detail {

static_assert(static_cast<unsigned>(OnFailure::escalate) <= 3,
              "Cell keeps the supervision policy in two flag bits");

void fail_current(std::exception_ptr error) noexcept {
  if (tls_cell != nullptr) tls_cell->defer_failure(std::move(error));
}

void Cell::request_stop(std::exception_ptr error) noexcept {
  if (error && !stop_failed_) {
    stop_failed_ = true;
    try {
      cold().reason = std::move(error);
    } catch (...) {
      // Still failed (stop_failed_): reason() answers lost_reason(), never "stopped".
      report_loss("a failure's reason");
    }
  }
  stop_requested_ = true;
}

void Cell::defer_failure(std::exception_ptr error) noexcept {
  try {  // a coroutine handler's refusal: its ask carries it, and that is all
    std::rethrow_exception(error);
  } catch (const Refused&) {
    core_->count_refusal();
    return;
  } catch (...) {
    // A fault: recorded below for the supervision policy.
  }
  try {
    Cold& c = cold();
    if (!c.pending_failure) c.pending_failure = std::move(error);
    failure_pending_ = true;
  } catch (...) {
    request_stop(std::current_exception());
  }
}

std::uint32_t Cell::restarts() const noexcept {
  Cold* c = cold_.load(std::memory_order_acquire);
  return c != nullptr ? c->restarts.load(std::memory_order_relaxed) : 0;
}

void Cell::handle_failure(std::exception_ptr error) noexcept {
  TROUPE_ASSERT(tls_cell == this, "a failure is handled in the failing actor's own turn");
  struct Forget {  // the text describe_ahead kept (envelopes.hpp) serves this failure only
    ~Forget() { forget_description(); }
  } forget;
  auto policy = static_cast<OnFailure>((flags() >> kPolicyShift) & 3);
  core_->count_failure();
  switch (policy) {
    case OnFailure::resume:
      // The ask (if any) already carries the exception; the state is kept. Nobody else
      // hears of it, so say it.
      core_->report_failure(*this, error, "failed; the message was skipped (resume)");
      return;
    case OnFailure::restart: {
      Cold& c = *cold_.load(std::memory_order_acquire);  // made at spawn for this policy
      Clock::time_point now = core_->timers().clock().now();
      while (!c.restart_times.empty() && now - c.restart_times.front() > c.restart_window) {
        c.restart_times.pop_front();
      }
      if (c.restart_times.size() >= c.max_restarts) break;  // too many: stop, failed
      c.restart_times.push_back(now);
      try {
        core_->report_failure(
            *this, error,
            fmt::format("failed and is restarted ({} of at most {} within {} ms)",
                        c.restart_times.size(), c.max_restarts,
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            c.restart_window)
                            .count()));
      } catch (...) {
        core_->report_failure(*this, error, "failed and is restarted");
      }
      restart(std::move(error));
      return;
    }
    case OnFailure::escalate: {
      Cold* c = cold_.load(std::memory_order_acquire);
      if (c != nullptr && c->parent) {
        Access::cell(c->parent)->enqueue(new EscalateEnvelope(error), Priority::system);
      }
      break;
    }
    case OnFailure::stop:
      break;
  }
  request_stop(std::move(error));
}

void Cell::restart(std::exception_ptr error) noexcept {
  Cold& c = *cold_.load(std::memory_order_acquire);
  std::exception_ptr why;  // what the asks its waiting coroutines answered learn
  try {
    why = std::make_exception_ptr(ActorStopped("actor '" + display_name() +
                                               "' was restarted after it failed (" +
                                               describe(error) + ")"));
  } catch (...) {
    why = std::current_exception();
  }
  cancel_coroutines_and_timers(c, std::move(why));  // the old actor's timers and waits go
  try {
    call_on_stop();  // the failed object's last words
  } catch (...) {
    core_->report_failure(*this, std::current_exception(), "failed in on_stop while restarting");
  }
  destroy_actor();
  c.restarts.fetch_add(1, std::memory_order_relaxed);
  core_->count_restart();
  try {
    c.rebuild(this);
    call_on_restart(error);  // then on_start: the fresh object begins as a new one would
  } catch (...) {
    core_->report_failure(*this, error);
    request_stop(std::current_exception());  // could not rebuild: end, failed
  }
}

}  // namespace troupe::detail
