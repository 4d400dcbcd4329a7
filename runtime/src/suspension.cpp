// suspension.cpp - coroutine handlers waiting for futures: each suspension is listed with
// the actor it must resume on, resumed by a message to that actor (so it runs between the
// actor's other messages), and destroyed if the actor ends or restarts first.
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
  return [s] {
    if (!s->claimed.exchange(true, std::memory_order_acq_rel)) {
      Access::cell(s->owner)->enqueue(new ResumeEnvelope(s));
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
  for (auto& t : c.timers) t->cancelled.store(true, std::memory_order_release);
  c.timers.clear();
}

}  // namespace troupe::detail
