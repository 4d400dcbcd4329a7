// handoff.cpp - an ask's turn that the plain thread waiting for the answer may run itself
// (see internal/handoff.hpp for why). Everything about the hand-off is here and in that
// header, except the two places that decide to use it: Cell::enqueue_ask (send.cpp) offers
// it, and StateBase::wait (future.cpp) takes it through the AnsweringTurn interface.
#include "internal/handoff.hpp"

#include "internal/core.hpp"

namespace troupe::detail {

void Scheduler::schedule_ask(Cell* cell, StateBase& answer) noexcept {
  Handoff* handoff;
  try {
    handoff = new Handoff(cell);
  } catch (...) {  // no memory for it: schedule the actor itself, as any send would
    push(nullptr, cell);
    return;
  }
  answer.offer_turn(handoff);
  push(nullptr, handoff);  // a worker may still be the one to run it
}

void Handoff::run_here() noexcept {
  if (claim()) {
    // The turn may end the actor and free its cell; if the System is gone meanwhile (a
    // handler outlasting the shutdown deadline), that would free the Core under the
    // scheduler this turn yields to. Workers hold the Core for the same reason.
    Core& core = cell_->core();
    core.retain();
    core.pool().count_asker_turn();
    {
      OutsideTurn outside;  // blocking waits inside the handler throw, as on a worker
      cell_->run_for_asker();
    }
    core.release();
  }
  release();
}

}  // namespace troupe::detail
