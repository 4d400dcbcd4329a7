// suspension.cpp - coroutine handlers waiting for futures: each suspension is listed with
// the actor it must resume on, resumed by a message to that actor (so it runs between the
// actor's other messages; past them while a non-reentrant actor is held), and destroyed if
// the actor ends or restarts first.
#include <memory>

#include "internal/core.hpp"
#include "internal/current.hpp"
#include "internal/runtime_messages.hpp"

namespace troupe::detail {

namespace {

// Outside actors: the coroutine resumes on whichever thread completes the future.
struct InlineWake : Pooled {
  StateBase::Waker waker;
  std::coroutine_handle<> handle;
};
void resume_inline(void* arg) noexcept {
  auto* w = static_cast<InlineWake*>(arg);
  std::coroutine_handle<> h = w->handle;
  delete w;
  h.resume();
}
void drop_inline(void* arg) noexcept { delete static_cast<InlineWake*>(arg); }

// The waker's reference to the suspension: posts the resumption (unless the owner gave up
// on it first), or just lets go.
void post_resumption(void* arg) noexcept {
  auto* s = static_cast<Suspension*>(arg);
  if (s->claimed.exchange(true, std::memory_order_acq_rel)) {
    s->release();
    return;
  }
  Cell* owner = Access::cell(s->owner);
  owner->enqueue(new ResumeEnvelope(SuspensionRef(s, SuspensionRef::adopt)), s->priority);
}
void drop_suspension(void* arg) noexcept { static_cast<Suspension*>(arg)->release(); }

}  // namespace

void resume_when_ready(StateBase& state, std::coroutine_handle<> handle,
                       std::coroutine_handle<> root) {
  Cell* cell = tls_cell;
  if (cell == nullptr) {  // not on an actor: resume on whichever thread completes it
    auto* w = new InlineWake;
    w->waker = StateBase::Waker{resume_inline, drop_inline, w};
    w->handle = handle;
    state.on_ready(&w->waker);
    return;
  }
  auto* s = new Suspension;  // one reference: the owner's list
  s->handle = handle;
  s->root = root;
  s->owner = Access::ref(cell);
  // A held non-reentrant actor's user messages wait in its mailbox: the resumption must
  // go past them.
  s->priority = cell->held() ? Priority::urgent : Priority::normal;
  Cold& c = CellAccess::cold(*cell);
  s->next = c.suspended;
  if (c.suspended != nullptr) c.suspended->prev = s;
  c.suspended = s;
  s->refs.store(2, std::memory_order_relaxed);  // and the waker's (nobody else sees it yet)
  s->waker = StateBase::Waker{post_resumption, drop_suspension, s};
  state.on_ready(&s->waker);
}

void unlist(Cold& c, Suspension& s) noexcept {
  if (s.prev != nullptr) {
    s.prev->next = s.next;
  } else {
    c.suspended = s.next;
  }
  if (s.next != nullptr) s.next->prev = s.prev;
  s.prev = s.next = nullptr;
  s.release();
}

void Cell::cancel_coroutines_and_timers(Cold& c, std::exception_ptr why) noexcept {
  // The asks those coroutines were answering fail with `why` (ActorStopped), not with
  // BrokenPromise, when their frames drop the promises.
  AbandonScope reason(std::move(why));
  // One suspension per waiting coroutine chain (a chain waits at one point at a time), so
  // each root is destroyed once. Destroying a frame never lists a new suspension.
  while (Suspension* s = c.suspended) {
    s->claimed.exchange(true, std::memory_order_acq_rel);
    s->retain();  // past unlist: `dead` is read by a resumption that may still come
    unlist(c, *s);
    if (!s->dead) {
      s->dead = true;
      s->root.destroy();
    }
    s->release();
  }
  for (auto& t : c.timers) t->cancelled.store(true, std::memory_order_release);
  c.timers.clear();
  held_ = false;  // the holding coroutine (if any) is gone
}

}  // namespace troupe::detail
