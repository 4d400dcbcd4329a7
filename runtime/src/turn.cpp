// turn.cpp - an actor's turn: take the next message (system, urgent, then normal), run
// its handler, finish it, and park or yield when done. The hot loop of the runtime; it
// lives in one translation unit on purpose. Also the loop of a dedicated-thread actor.
#include <chrono>
#include <utility>

#include "internal/check.hpp"
#include "troupe/errors.hpp"
#include "internal/core.hpp"
#include "internal/current.hpp"
#include "internal/cycles.hpp"

namespace troupe::detail {

[[gnu::tls_model("initial-exec")]] thread_local Cell* tls_cell = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local Cell* tls_constructing = nullptr;

Cell* current_cell() noexcept { return tls_cell; }

namespace {
// Pops on this thread until the next timed one (Cell::timed_pop).
constexpr std::uint32_t kTimedPopEvery = 128;
[[gnu::tls_model("initial-exec")]] thread_local std::uint32_t tls_pops_until_timed = kTimedPopEvery;
// Ready futures co_awaited in this thread's current turn since the last forced suspension.
[[gnu::tls_model("initial-exec")]] thread_local std::uint32_t tls_ready_awaits = 0;
constexpr std::uint32_t kAwaitBudget = 64;
}  // namespace

bool within_await_budget() noexcept {
  if (tls_cell == nullptr) return true;
  if (++tls_ready_awaits < kAwaitBudget) return true;
  tls_ready_awaits = 0;
  return false;
}

bool Cell::park(Mailbox::State how) noexcept {
  // Held (and not ending): what waits in the mailbox and the bounded queue is for later.
  if (held_ && how == Mailbox::kIdle) {
    return mail_.park_anyway(how, [this] { return priority_.empty(); });
  }
  return mail_.park(how, [this] {
    if (!priority_.empty() || deferred_) return false;
    if ((flags() & kBounded) == 0) return true;
    Cold::Bounded& b = *cold_.load(std::memory_order_acquire)->bounded;
    std::lock_guard lock(b.mutex);
    return b.queue.empty();
  });
}

void Cell::dead_letter_queued(Envelope* e) noexcept {
  if (e->counts_as_dead_letter()) core_->dead_letter(*this, *e);
  e->reject(*this);
  finish(e);
}

void Cell::finish(Envelope* e) noexcept {
  e->dispose();
  if (!mail_.holds(e)) delete e;  // else the mailbox frees it with the next pop
}

// -- the turn ------------------------------------------------------------------------------------

Envelope* Cell::next_envelope(Node*& taken) noexcept {
  if (!priority_.empty()) {
    // New system messages go before everything taken so far, new urgent ones after it.
    Node* system_first = nullptr;
    Node* system_last = nullptr;
    Node* urgent_first = nullptr;
    Node* urgent_last = nullptr;
    auto append = [](Node*& first, Node*& last, Node* n) {
      n->next.store(nullptr, std::memory_order_relaxed);
      if (last != nullptr) {
        last->next.store(n, std::memory_order_relaxed);
      } else {
        first = n;
      }
      last = n;
    };
    for (Node* n = priority_.take_fifo(); n != nullptr;) {
      Node* next = n->next.load(std::memory_order_relaxed);
      if (static_cast<Envelope*>(n)->is_system()) {
        append(system_first, system_last, n);
      } else {
        append(urgent_first, urgent_last, n);
      }
      n = next;
    }
    for (Node* n = taken; n != nullptr;) {  // keep what was already taken
      Node* next = n->next.load(std::memory_order_relaxed);
      append(system_first, system_last, n);
      n = next;
    }
    if (urgent_first != nullptr) {  // splice the whole urgent list on the end
      if (system_last != nullptr) {
        system_last->next.store(urgent_first, std::memory_order_relaxed);
      } else {
        system_first = urgent_first;
      }
    }
    taken = system_first;
  }
  if (held_) {
    // A coroutine handler holds this non-reentrant actor: only runtime messages run; user
    // ones taken with them wait for the hold to end, in order.
    while (taken != nullptr) {
      auto* e = static_cast<Envelope*>(taken);
      taken = taken->next.load(std::memory_order_relaxed);
      if (e->runs_while_held()) return e;
      defer(e);
    }
    return nullptr;
  }
  if (taken != nullptr) {
    Node* n = taken;
    taken = n->next.load(std::memory_order_relaxed);
    return static_cast<Envelope*>(n);
  }
  if (deferred_) {  // urgent messages that waited for a hold to end
    Cold& c = cold();
    Node* n = c.deferred_first;
    c.deferred_first = n->next.load(std::memory_order_relaxed);
    if (c.deferred_first == nullptr) {
      c.deferred_last = nullptr;
      deferred_ = false;
    }
    return static_cast<Envelope*>(n);
  }
  if ((flags() & kBounded) != 0) {
    // Messages sent from the constructor, before spawn made the mailbox bounded, wait in
    // the plain mailbox; they go first.
    if (Envelope* early = pop_mailbox()) return early;
    Cold::Bounded& b = *cold_.load(std::memory_order_acquire)->bounded;
    Envelope* e = nullptr;
    {
      std::lock_guard lock(b.mutex);
      if (b.queue.empty()) return nullptr;
      e = b.queue.front();
      b.queue.pop_front();
      if (e->counts_as_dead_letter()) --b.user_messages;
    }
    b.space.notify_one();
    return e;
  }
  return pop_mailbox();
}

void Cell::defer(Envelope* e) noexcept {
  Cold& c = cold();
  e->next.store(nullptr, std::memory_order_relaxed);
  if (c.deferred_last != nullptr) {
    c.deferred_last->next.store(e, std::memory_order_relaxed);
  } else {
    c.deferred_first = e;
  }
  c.deferred_last = e;
  deferred_ = true;
}

Envelope* Cell::timed_pop(Node*& tail, Node*& spent) noexcept {
  // As a timed push (send.cpp): a message whose lines must come from the sender's core
  // costs the turn several hundred cycles, what the pool hears as a stall. The countdown
  // runs across every actor this thread runs, so no actor's pops are sampled more than
  // another's (sampling each actor's first, say, would time new memory, not other cores).
  constexpr std::uint64_t kLocalPopCycles = 200;
  tls_pops_until_timed = kTimedPopEvery;
  if (!kHaveCycleCount || !stalls_counted()) {
    return static_cast<Envelope*>(mail_.pop_after(tail, spent));
  }
  std::uint64_t before = cycle_count();
  auto* e = static_cast<Envelope*>(mail_.pop_after(tail, spent));
  if (e == nullptr) return nullptr;
  static_cast<void>(*reinterpret_cast<const volatile unsigned char*>(e));  // its first line
  std::uint64_t took = cycle_count() - before;
  if (took > kLocalPopCycles) note_stall(took * kTimedPopEvery);
  return e;
}

Envelope* Cell::pop_mailbox() noexcept {
  Node* spent = nullptr;
  Node* n = mail_.pop(spent);
  if (spent != nullptr) delete static_cast<Envelope*>(spent);  // handled before: a shell
  return static_cast<Envelope*>(n);
}

std::uint32_t Cell::reject_all(Node*& taken) noexcept {
  std::uint32_t n = 0;
  while (Envelope* e = next_envelope(taken)) {
    dead_letter_queued(e);
    ++n;
  }
  return n;
}

template <bool kForAsker>
Cell::Next Cell::turn() noexcept {
  TROUPE_ASSERT(tls_cell != this, "one turn of an actor at a time: turns never nest");
  Cell* saved = std::exchange(tls_cell, this);
  tls_ready_awaits = 0;
  Node* taken = nullptr;  // priority messages taken this turn: all handled before it ends
  std::uint32_t handled = 0;
  const std::uint32_t batch = kForAsker ? 1 : core_->options().batch;
  for (unsigned empty_rounds = 0;;) {
    // Read each round, not once per turn: a turn that keeps finding messages goes on
    // for round after round, and a live trace (probe::start_trace) must see it.
    Tracer* tracer = core_->tracer();
    auto start = tracer != nullptr ? std::chrono::steady_clock::now()
                                   : std::chrono::steady_clock::time_point{};
    std::uint32_t round = 0;  // messages handled since the last attempt to park
    if (!terminated()) {
      // Read once a round, not per message: the flags are set before the first turn, and
      // the placeholder lives in a register (see Mailbox::pop_after and the cell's layout).
      const bool plain = (flags() & kBounded) == 0;
      Node* tail = mail_.placeholder();
      while (handled + round < batch || taken != nullptr) {
        // The common case first: no urgent or system message, a plain mailbox, no hold.
        Envelope* e;
        if (plain && taken == nullptr && priority_.empty() && !held_ && !deferred_) {
          Node* spent = nullptr;
          if (--tls_pops_until_timed != 0) [[likely]] {
            e = static_cast<Envelope*>(mail_.pop_after(tail, spent));
          } else {
            e = timed_pop(tail, spent);
          }
          if (spent != nullptr) delete static_cast<Envelope*>(spent);  // handled before
        } else {
          mail_.set_placeholder(tail);
          e = next_envelope(taken);
          tail = mail_.placeholder();
        }
        if (e == nullptr) break;
        ++round;
        if (tracer != nullptr) tracer->delivered(e);
        try {
          e->deliver(*this);
        } catch (const Refused&) {
          core_->count_refusal();  // the ask already carries it; the actor carries on
        } catch (...) {
          count_own_failure();
          handle_failure(std::current_exception());  // (never pops: `tail` stays right)
        }
        e->dispose();
        if (e != tail) delete e;  // else it is the placeholder, freed by the next pop
        if (failure_pending_) {  // a coroutine handler failed during this message
          failure_pending_ = false;
          count_own_failure();
          handle_failure(std::exchange(cold().pending_failure, nullptr));
        }
        if (stop_requested_) break;
      }
      mail_.set_placeholder(tail);
      handled += round;
      handled_.store(handled_.load(std::memory_order_relaxed) + round,
                     std::memory_order_relaxed);
      if (stop_requested_) terminate(taken);
    }
    std::uint32_t rejected = terminated() ? reject_all(taken) : 0;
    tls_cell = saved;
    if (tracer != nullptr) tracer->turn(*this, start, std::chrono::steady_clock::now() - start);
    bool ended = terminated();
    bool used_up = !ended && handled >= batch;
    if (!kForAsker && used_up) return Next::again;  // the rest waits its turn

    // Nothing left that this turn can see. A sender that raced and lost counts may have
    // left `sent_` below `handled_`: nothing is queued now, so catch it up.
    if (!ended) {
      std::uint32_t sent = sent_.load(std::memory_order_relaxed);
      std::uint32_t done = handled_.load(std::memory_order_relaxed);
      if (static_cast<std::int32_t>(sent - done) < 0) {
        sent_.store(done, std::memory_order_relaxed);
      }
    }
    // Park. From here on another turn may run (a sender schedules it), retire the cell and
    // free it: on success, this turn must not touch the cell again.
    if (park(ended ? Mailbox::kRetired : Mailbox::kIdle)) {
      if (!ended) return Next::idle;
      // The registry's reference (or, after a racing send, the one wake() took) goes.
      release();
      return Next::retired;
    }
    if (kForAsker && used_up) return Next::again;  // the rest is for the pool
    // Something arrived meanwhile. Go on with it, unless twice nothing could be taken: a
    // sender is half-way through its push, so let others run first.
    empty_rounds = round == 0 && rejected == 0 ? empty_rounds + 1 : 0;
    if (empty_rounds >= 2) return Next::again;
    tls_cell = this;
  }
}

void Cell::run() noexcept {
  note_place(home_);  // on a pool worker (a migration is counted for gathering)
  if (turn<false>() == Next::again) core_->yield(this);
}

void Cell::run_for_asker() noexcept {
  if (turn<true>() == Next::again) core_->yield(this);
}

// -- dedicated threads -----------------------------------------------------------------------------

void Cell::run_dedicated() noexcept {
  // The thread holds its own reference, so the cell outlives the retiring turn. It runs
  // while the mailbox is active: from birth if messages came early, else once a sender
  // wakes it.
  for (;;) {
    mail_.wait_while_idle();
    Next next;
    do {
      next = turn<false>();
    } while (next == Next::again);
    if (next == Next::retired) return;
  }
}

}  // namespace troupe::detail
