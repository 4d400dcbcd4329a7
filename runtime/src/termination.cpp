// termination.cpp - the end of an actor, inside its last turn: coroutines and timers
// dropped, queued messages made dead letters, children stopped, the failure reported to
// the parent or on stderr, the object destroyed, watchers sent Down, the registry told.
#include <algorithm>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "internal/runtime_messages.hpp"

namespace troupe::detail {

void Cell::terminate(Node*& taken) noexcept {
  TROUPE_ASSERT(current_cell() == this, "an actor ends in its own turn");
  TROUPE_ASSERT(!terminated(), "an actor ends once");
  // The actor's own last words, while it is still alive (its sends to itself are dead
  // letters after all). A throw makes the end a failure; a failure stays one.
  try {
    call_on_stop();
  } catch (...) {
    count_own_failure();
    core_->count_failure();
    request_stop(std::current_exception());  // keeps an earlier failure's reason
  }
  Cold* c = cold_.load(std::memory_order_acquire);
  status_.store(stop_failed_ ? Status::failed : Status::stopped, std::memory_order_release);
  if (c != nullptr) {
    // Coroutines still waiting: destroy their frames now, while the actor object exists.
    std::exception_ptr why;
    try {
      why = stopped_error();
    } catch (...) {
      why = std::current_exception();  // out of memory: that is what the asks learn
    }
    cancel_coroutines_and_timers(*c, std::move(why));
    if (c->bounded) {  // wake senders blocked on a full mailbox: they see the end
      { std::lock_guard lock(c->bounded->mutex); }
      c->bounded->space.notify_all();
    }
    reject_all(taken);  // queued resumptions destroy their frames here too
    for (auto& child : c->children) send_stop(Access::cell(child), StopMode::drop);
    c->children.clear();
  }
  if (c != nullptr && c->parent) {
    bool watching = std::find(c->watchers.begin(), c->watchers.end(), c->parent) !=
                    c->watchers.end();
    if (stop_failed_ && !watching) c->watchers.push_back(c->parent);  // a failure reaches the parent
    c->parent = Ref<Actor>();
  }
  if (stop_failed_ && (c == nullptr || c->watchers.empty())) {
    core_->report_failure(*this, reason());  // nobody is told: say it on stderr
  }
  destroy_actor();
  if (c != nullptr && !c->watchers.empty()) {
    for (auto& w : c->watchers) {
      try {
        Access::cell(w)->enqueue(new DownEnvelope(make_down(*this)), Priority::system);
      } catch (...) {
        report_loss("a Down for a watcher");
      }
    }
    c->watchers.clear();
  }
  core_->retire(this);
}

}  // namespace troupe::detail
