// troupe/detail/waiter_list.hpp - the requests a system actor has parked until it can answer
// them. Not public API.
//
// Event (wait), Semaphore (acquire) and WorkQueue (get, and put on a full queue) all keep
// the same bookkeeping: requests in arrival order, each with its Reply, the actor that asked
// (watched, so that its waits go when it ends), a timer for its timeout, and a message the
// owner sends itself when that timer fires. WaiterList is that bookkeeping, once.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "troupe/clock.hpp"
#include "troupe/detail/access.hpp"
#include "troupe/detail/cell.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/ref.hpp"
#include "troupe/timer.hpp"

namespace troupe::detail {

/// The running actor's Ref, or an empty one on a plain thread: who a request comes from.
inline Ref<Actor> current_actor() {
  return Access::ref(current_cell());  // empty on a plain thread
}

/// Parked requests answering R, oldest first. Owned by one actor; used only in its turns.
template <class R, class Data = NoData>
class WaiterList {
 public:
  using Id = std::uint64_t;
  struct Waiter {
    Reply<R> reply;
    Ref<Actor> who;           // the actor waiting, or empty for a plain thread
    Clock::duration timeout;  // as asked, for the timeout's error message
    Data data;                // what else the owner keeps (a put's item)
    Timer timer;              // set by park when the request has a timeout
  };

  /// Parks a request from `who` (empty for a plain thread); if `timeout` is finite,
  /// `arm(id)` makes its timer (the owner's `after(timeout, self, Expire{id})`), and
  /// expire(id) takes it out when that fires.
  /// Returns the request's id.
  template <class Arm>
  Id park(Reply<R> reply, Ref<Actor> who, Clock::duration timeout, Arm&& arm,
          Data data = {}) {
    Id id = ++last_id_;
    Waiter& parked =
        waiters_.emplace(id, Waiter{std::move(reply), std::move(who), timeout, std::move(data), {}})
            .first->second;
    if (has_timeout(timeout)) parked.timer = arm(id);
    return id;
  }

  /// Gives waiter `id` its timer, made after it was parked (by the owner of the timers,
  /// when the waiter was parked by someone else); false, and the timer cancelled, if that
  /// waiter is gone already.
  bool set_timer(Id id, Timer timer) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) {
      timer.cancel();
      return false;
    }
    it->second.timer = std::move(timer);
    return true;
  }

  /// The waiter whose timer fired, taken out; nothing if it was served just before.
  std::optional<Waiter> expire(Id id) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return std::nullopt;
    Waiter out = std::move(it->second);
    waiters_.erase(it);
    return out;
  }

  /// The oldest waiter whose actor is still alive, taken out with its timer cancelled.
  /// Waiters of actors that ended are dropped on the way (their Down is coming; their
  /// replies cancel themselves).
  std::optional<Waiter> take_oldest() {
    while (!waiters_.empty()) {
      auto node = waiters_.extract(waiters_.begin());
      Waiter& w = node.mapped();
      w.timer.cancel();
      if (w.who && !w.who.alive()) continue;
      return std::move(w);
    }
    return std::nullopt;
  }

  /// Every waiter, oldest first, taken out with its timer cancelled.
  std::vector<Waiter> take_all() {
    std::vector<Waiter> out;
    out.reserve(waiters_.size());
    for (auto& [id, w] : waiters_) {
      w.timer.cancel();
      out.push_back(std::move(w));
    }
    waiters_.clear();
    return out;
  }

  /// Drops the waits of an actor that ended: nobody is listening (the replies cancel
  /// themselves), and it must not be handed anything (an item would be lost).
  void drop_from(const Ref<Actor>& ended) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.who == ended) {
        it->second.timer.cancel();
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }

  /// Fails every waiter with `why` (the owner ends).
  void fail_all(const std::exception_ptr& why) noexcept {
    for (auto& [id, w] : waiters_) w.reply.fail(why);
  }

  std::size_t size() const noexcept { return waiters_.size(); }
  bool empty() const noexcept { return waiters_.empty(); }

 private:
  std::map<Id, Waiter> waiters_;  // ids grow: the map's order is arrival order
  Id last_id_ = 0;
};

/// The actors a system actor watches, each once until its Down.
class WatchedOnce {
 public:
  /// True the first time `who` (non-empty) is seen since its last Down: watch it then.
  bool first(const Ref<Actor>& who) { return who && watched_.insert(who).second; }
  /// Its Down came.
  void ended(const Ref<Actor>& who) { watched_.erase(who); }

 private:
  std::unordered_set<Ref<Actor>> watched_;
};

}  // namespace troupe::detail
