// send.cpp - a message into an actor's mailbox, and the actor woken: the slow half of
// Cell::enqueue (the inline fast path is in troupe/detail/cell.hpp), asks that may hand
// their turn to the asker, birth, and dead letters on the sender's side.
//
// Scheduling rests on the mailbox head (see Mailbox): a turn that runs out of messages
// parks it, and the one sender whose push finds it parked schedules the actor (once,
// never twice). A new cell's mailbox starts active (as if scheduled), so nothing runs
// before spawn has registered it; born() then parks it or schedules it.
//
// A scheduled cell is kept alive by the registry's reference, not by one per turn: the
// registry lets go only at the end of the actor's last turn, which parks the mailbox as
// retired. Senders check `terminated()` first, so a sender that still finds the mailbox
// retired raced with the end: it takes a reference and schedules one more turn, which
// turns its message into a dead letter and lets go of that reference.
#include <thread>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "internal/current.hpp"
#include "internal/cycles.hpp"
#include "internal/runtime_messages.hpp"

namespace troupe::detail {

void send_stop(Cell* cell, StopMode mode) noexcept {
  if (cell == nullptr || cell->terminated()) return;
  cell->enqueue(new StopEnvelope, mode == StopMode::drop ? Priority::system : Priority::normal);
}

void send_start(Cell* cell) { cell->enqueue(new StartEnvelope, Priority::system); }

bool Cell::enqueue_slow(Envelope* e, Priority priority, StateBase* answer) noexcept {
  if (terminated()) {
    dead_letter(e);
    return false;
  }
  if (Tracer* tracer = core_->tracer()) tracer->sent(e);
  if (SendSampler* sampler = core_->send_sampler()) [[unlikely]] {
    Cell* from = tls_cell;
    sampler->sent(from != nullptr && from->core_ == core_ ? from->id_ : 0, id_);
  }
  if ((flags() & kBounded) != 0 && priority == Priority::normal) return enqueue_bounded(e);
  // Counted before the push, so that the turn handling it cannot count it first.
  sent_.store(sent_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  Mailbox::State state;
  if (priority == Priority::normal) {
    state = mail_.push(e);
  } else {
    priority_.push(e);
    state = mail_.poke();
  }
  if (state == Mailbox::kActive) return true;
  // An ask that woke the actor: its message comes first (before any normal message sent
  // after it), so the turn that answers can run on the asker's thread once it waits. The
  // flags are read again: a Ref handed out by the constructor can reach here before spawn
  // published them, and a dedicated thread must be the only one to run its actor's turns.
  if (answer != nullptr && state == Mailbox::kIdle && (flags() & kDedicated) == 0) {
    core_->pool().schedule_ask(this, *answer);
  } else {
    wake(state);
  }
  return true;
}

bool Cell::enqueue_ask(Envelope* e, StateBase& answer) noexcept {
  if (AskClock* clock = core_->ask_clock()) [[unlikely]] clock->asked(answer);
  // Only a plain thread can wait on the answer (a worker or a turn must not block), and
  // only a pool actor's turn can be handed over.
  bool may_hand_off = tls_cell == nullptr && !must_not_block() &&
                      (flags() & (kBounded | kDedicated)) == 0 && !core_->deterministic();
  return may_hand_off ? enqueue_slow(e, Priority::normal, &answer) : enqueue(e);
}

bool Cell::enqueue_timed(Envelope* e) noexcept {
  // An exchange on a line this core holds takes some 20-50 cycles. One that must fetch
  // the line from another core (other senders there, or the actor parking there) takes
  // several hundred: that wait, scaled by the sampling, is what the pool hears.
  constexpr std::uint64_t kLocalPushCycles = 200;
  if (!kHaveCycleCount || !stalls_counted()) {
    if (Mailbox::State state = mail_.push(e); state != Mailbox::kActive) wake(state);
    return true;
  }
  std::uint64_t before = cycle_count();
  Mailbox::State state = mail_.push(e);
  std::uint64_t took = cycle_count() - before;
  if (took > kLocalPushCycles) note_stall(took * (kTimedPushMask + 1));
  if (state != Mailbox::kActive) wake(state);
  return true;
}

void Cell::wake(Mailbox::State state) noexcept {
  TROUPE_ASSERT(state == Mailbox::kIdle || state == Mailbox::kRetired,
                "only the one sender that found the mailbox parked schedules the actor");
  if (state == Mailbox::kRetired) {
    // The actor ended after our check of terminated(): one more turn makes the message a
    // dead letter. It runs on the pool (a dedicated thread has gone) and holds a reference
    // of its own, as the registry's is gone.
    add_ref();
    core_->schedule(this);
  } else if ((flags() & kDedicated) != 0) {
    mail_.notify();
  } else {
    core_->schedule(this);
  }
}

void Cell::born() noexcept {
  // Called by the registry with the cell's shard locked (and the name map, for a named
  // cell), so neither find() nor shutdown can hand out a Ref meanwhile. If only the
  // registry and the spawner hold a reference, no other thread can reach the cell (a Ref
  // handed out and dropped again synchronised with the load), so nothing races with a
  // plain store. This is the common case, and saves an atomic RMW per spawn.
  if (refs_.load(std::memory_order_acquire) == 2 && priority_.empty() && mail_.park_unshared()) {
    return;
  }
  if (park(Mailbox::kIdle)) return;
  // Messages sent during construction and registration: run them now. A dedicated
  // thread, started after this, finds the mailbox active and runs them by itself.
  if ((flags() & kDedicated) == 0) core_->schedule(this);
}

void Cell::stillborn() noexcept {
  Node* taken = nullptr;
  status_.store(Status::stopped, std::memory_order_release);  // senders now: dead letters
  // A sender holding a Ref from the constructor may have passed the check above already.
  // The birth keeps the mailbox active: reject what is queued until it parks as retired,
  // after which a racing sender schedules a turn that rejects its message (see wake).
  for (;;) {
    reject_all(taken);
    if (park(Mailbox::kRetired)) return;
    std::this_thread::yield();  // a sender is half-way through its push
  }
}

void Cell::dead_letter(Envelope* e) noexcept {
  if (e->counts_as_dead_letter()) core_->dead_letter(*this, *e);
  e->reject(*this);
  e->dispose();
  delete e;
}

}  // namespace troupe::detail
