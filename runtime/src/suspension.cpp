// suspension.cpp - coroutine handlers waiting for futures: each suspension is listed with
// the actor it must resume on, resumed by a message to that actor (so it runs between the
// actor's other messages; past them while a non-reentrant actor is held), and destroyed if
// the actor ends or restarts first.
#include <functional>
#include <memory>

#include "internal/core.hpp"
#include "internal/current.hpp"
#include "internal/runtime_messages.hpp"

namespace troupe::detail {

std::function<void()> make_resumer(std::coroutine_handle<> handle, std::coroutine_handle<> root) {
  Cell* cell = tls_cell;
  if (cell == nullptr) return [handle] { handle.resume(); };
  auto s = std::make_shared<Suspension>();
  s->handle = handle;
  s->root = root;
  s->owner = Access::ref(cell);
  auto& suspended = CellAccess::cold(*cell).suspended;
  s->place = suspended.insert(suspended.end(), s);
  // A held non-reentrant actor's user messages wait in its mailbox: the resumption must
  // go past them.
  Priority priority = cell->held() ? Priority::urgent : Priority::normal;
  return [s, priority] {
    if (!s->claimed.exchange(true, std::memory_order_acq_rel)) {
      Access::cell(s->owner)->enqueue(new ResumeEnvelope(s), priority);
    }
  };
}

void Cell::cancel_coroutines_and_timers(Cold& c, std::exception_ptr why) noexcept {
  // The asks those coroutines were answering fail with `why` (ActorStopped), not with
  // BrokenPromise, when their frames drop the promises.
  AbandonScope reason(std::move(why));
  for (auto& s : c.suspended) {
    s->claimed.exchange(true, std::memory_order_acq_rel);
    if (!s->dead) {
      s->dead = true;
      s->root.destroy();
    }
  }
  c.suspended.clear();
  held_ = false;  // the holding coroutine (if any) is gone
  for (auto& t : c.timers) t->cancelled.store(true, std::memory_order_release);
  c.timers.clear();
}

}  // namespace troupe::detail
