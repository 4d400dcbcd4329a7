// troupe/detail/work_queue_actor.hpp - the daemon actor behind WorkQueue<T>. Not public API.
//
// The items, and the producers and consumers waiting on them, live in QueueCore, which the
// handles share with the actor, under a spin lock held only for a push, a pop or a hand-off
// (never while a future is completed or user code runs). The handles do all the work a
// Python queue's methods do under its lock: a put that finds a consumer waiting hands it
// the item, one that finds room queues it, one that finds the queue full parks its
// producer; a get that finds an item takes it and lets the oldest waiting producer in,
// one that finds none parks its consumer. A waiter's future is completed by whoever
// serves it, on that thread: nothing goes through the actor, so a hand-off between a
// producer and a consumer costs one resumption (issue 14: a put, get and task_done each
// used to be a request and its answer, then a waiting consumer was served through two
// messages to the actor).
//
// The actor keeps what needs an actor: the timers of waits with a timeout (a handle that
// parks one tells it `ArmGet`/`ArmPut`; the timer's `ExpireGet`/`ExpirePut` takes the
// waiter out if it is still there), `join`, and the end of the queue (its destructor fails
// whoever still waits). Invariants: consumers wait only while no item is queued, producers
// only while the queue is full; so at most one of `getters` and `putters` is non-empty.
// Waiters are served in arrival order (the order they took the lock); a consumer actor
// that ended while waiting is skipped when its turn comes, so no item is handed to it.
//
// Tasks. The unfinished count is an atomic in the core: a put counts its task when its
// item enters, task_done takes it back with no message at all, and only the task_done
// that brings it to zero tells the actor (`AllDone`) to answer the joins waiting.
#pragma once

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/actor.hpp"
#include "troupe/detail/spin_lock.hpp"
#include "troupe/detail/waiter_list.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/errors.hpp"

namespace troupe {

/// In which order a WorkQueue hands out its items.
enum class QueueOrder : std::uint8_t {
  fifo,      ///< first in, first out (Python's Queue)
  lifo,      ///< last in, first out (Python's LifoQueue)
  priority,  ///< smallest first by the queue's comparator (Python's PriorityQueue); ties
             ///< come out in the order they were put
};

/// What `put` does when a bounded WorkQueue is full.
enum class WhenFull : std::uint8_t {
  wait,    ///< the put's future completes once there is room (or its timeout passes)
  reject,  ///< the put's future fails at once with QueueFull
};

namespace detail {

// Messages for errors, compiled once in work_queue.cpp.
TROUPE_API std::exception_ptr queue_full_error(const std::string& label,
                                               std::size_t capacity) noexcept;
TROUPE_API std::exception_ptr put_timeout_error(const std::string& label,
                                                Clock::duration waited) noexcept;
TROUPE_API std::exception_ptr get_timeout_error(const std::string& label,
                                                Clock::duration waited) noexcept;
TROUPE_API std::exception_ptr task_done_error(const std::string& label) noexcept;
TROUPE_API std::exception_ptr queue_stopped_error(const char* what,
                                                  const std::string& label) noexcept;

inline constexpr const char* kPutCancelled =
    "WorkQueue::put cancelled: the queue's actor has stopped (the system is shutting down)";
inline constexpr const char* kGetCancelled =
    "WorkQueue::get cancelled: the queue's actor has stopped (the system is shutting down)";
inline constexpr const char* kTaskDoneCancelled =
    "WorkQueue::task_done cancelled: the queue's actor has stopped (the system is shutting down)";
inline constexpr const char* kJoinCancelled =
    "WorkQueue::join cancelled: the queue's actor has stopped (the system is shutting down)";

/// The queued items, in one of the three orders.
template <class T, class Compare>
class WorkItems {
 public:
  // std::less<T> is callable with any T, and fails only when its body is compiled.
  static constexpr bool kComparable =
      std::predicate<Compare&, const T&, const T&> &&
      (!std::is_same_v<Compare, std::less<T>> || requires(const T& a, const T& b) {
        { a < b } -> std::convertible_to<bool>;
      });

  WorkItems(QueueOrder order, Compare compare) : order_(order), compare_(std::move(compare)) {}

  std::size_t size() const noexcept {
    return order_ == QueueOrder::priority ? heap_.size() : list_.size();
  }
  bool empty() const noexcept { return size() == 0; }

  void push(T item) {
    if (order_ != QueueOrder::priority) {
      list_.push_back(std::move(item));
      return;
    }
    if constexpr (kComparable) {
      heap_.push_back(Entry{std::move(item), ++sequence_});
      std::push_heap(heap_.begin(), heap_.end(), later());
    }
  }

  /// Takes the next item. Not empty() is required.
  T pop() {
    if (order_ == QueueOrder::fifo) {
      T item = std::move(list_.front());
      list_.pop_front();
      return item;
    }
    if (order_ == QueueOrder::lifo) {
      T item = std::move(list_.back());
      list_.pop_back();
      return item;
    }
    if constexpr (kComparable) {
      std::pop_heap(heap_.begin(), heap_.end(), later());
      T item = std::move(heap_.back().item);
      heap_.pop_back();
      return item;
    } else {
      throw std::logic_error("WorkQueue: priority order needs a comparator");  // unreachable
    }
  }

 private:
  struct Entry {
    T item;
    std::uint64_t sequence;  // ties come out in put order
  };
  /// The std heap functions keep the "largest" in front; "largest" here is the entry that
  /// comes out first: the smallest item, the oldest among equals.
  auto later() {
    return [this](const Entry& a, const Entry& b) {
      if (compare_(b.item, a.item)) return true;
      if (compare_(a.item, b.item)) return false;
      return a.sequence > b.sequence;
    };
  }

  QueueOrder order_;
  Compare compare_;
  std::deque<T> list_;       // fifo and lifo
  std::vector<Entry> heap_;  // priority
  std::uint64_t sequence_ = 0;
};

/// A completed Future<void>, one per thread: what a put that needs no answer and a
/// task_done return. Per thread, so that a producer and a consumer on two cores do not
/// bounce one reference count between them.
inline const Future<void>& completed_future() {
  static thread_local const Future<void> done = Future<void>::ready_with();
  return done;
}

/// What a producer waiting for room keeps: its item.
template <class T>
struct PutWaiting {
  T item;
};

/// What a WorkQueue's handles share with its actor: the items and who waits for them (see
/// the top of this file). The lock guards every field not marked atomic or const.
template <class T, class Compare>
struct QueueCore {
  QueueCore(QueueOrder order, std::size_t capacity_, WhenFull when_full_, Compare compare,
            std::string label_)
      : items(order, std::move(compare)),
        capacity(capacity_),
        when_full(when_full_),
        label(std::move(label_)) {}

  /// Room for one more item.
  bool has_room() const noexcept { return capacity == 0 || items.size() < capacity; }

  /// One task done: false (and nothing changes) if none is unfinished. Sets `last` when
  /// this one brought the count to zero.
  bool finish_task(bool& last) noexcept {
    std::int64_t u = unfinished.load(std::memory_order_relaxed);
    while (u > 0) {
      if (unfinished.compare_exchange_weak(u, u - 1, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
        last = u == 1;
        return true;
      }
    }
    return false;
  }

  /// Room was made by a get: the oldest waiting producer's item goes in, and its reply is
  /// returned to be answered after the lock. Lock held.
  std::optional<Reply<void>> admit_putter() {
    if (!has_room()) return std::nullopt;
    auto p = putters.take_oldest();
    if (!p) return std::nullopt;
    items.push(std::move(p->data.item));
    unfinished.fetch_add(1, std::memory_order_relaxed);
    return std::move(p->reply);
  }

  SpinLock mutex;
  std::atomic<std::int64_t> unfinished{0};  // put and not yet task_done (beside the lock:
                                            // a get and its task_done find the line here)
  WorkItems<T, Compare> items;
  WaiterList<T> getters;                    // consumers waiting for an item, by arrival
  WaiterList<void, PutWaiting<T>> putters;  // producers waiting for room, by arrival
  const std::size_t capacity;  // 0: unbounded
  const WhenFull when_full;
  bool closed = false;  // the actor has ended: every call fails with Cancelled
  const std::string label;
};

template <class T, class Compare>
class WorkQueueActor final : public Actor {
 public:
  using Core = QueueCore<T, Compare>;

  // -- messages (sent by WorkQueue<T>) ---------------------------------------------------------
  /// A handle parked a wait with a timeout: arm its timer.
  struct ArmGet {
    std::uint64_t id;
    Clock::duration timeout;
  };
  struct ArmPut {
    std::uint64_t id;
    Clock::duration timeout;
  };
  struct ExpirePut {
    std::uint64_t id;
  };
  struct ExpireGet {
    std::uint64_t id;
  };
  /// The unfinished count reached zero: answer the joins if it still is.
  struct AllDone {};
  struct Join {
    Reply<void> reply;
  };
  struct CountItems {};
  struct CountUnfinished {};

  explicit WorkQueueActor(std::shared_ptr<Core> core)
      : label_(core->label), core_(std::move(core)) {}

  ~WorkQueueActor() override {
    std::vector<T> dropped;  // destroyed after the lock: an item's destructor is user code
    WaiterList<T> getters;
    WaiterList<void, PutWaiting<T>> putters;
    {
      std::lock_guard lock(core_->mutex);
      core_->closed = true;
      dropped.reserve(core_->items.size());
      while (!core_->items.empty()) dropped.push_back(core_->items.pop());
      std::swap(getters, core_->getters);
      std::swap(putters, core_->putters);
    }
    getters.fail_all(queue_stopped_error("get on", label_));
    putters.fail_all(queue_stopped_error("put on", label_));
    for (auto& j : joiners_) j.fail(queue_stopped_error("join on", label_));
  }

  // -- timeouts --------------------------------------------------------------------------------

  void on(const ArmGet& a) {
    Timer timer = after(a.timeout, self<WorkQueueActor>(), ExpireGet{a.id});
    std::lock_guard lock(core_->mutex);
    core_->getters.set_timer(a.id, std::move(timer));  // cancelled if served meanwhile
  }

  void on(const ArmPut& a) {
    Timer timer = after(a.timeout, self<WorkQueueActor>(), ExpirePut{a.id});
    std::lock_guard lock(core_->mutex);
    core_->putters.set_timer(a.id, std::move(timer));
  }

  void on(ExpireGet e) {
    std::optional<typename WaiterList<T>::Waiter> g;
    {
      std::lock_guard lock(core_->mutex);
      g = core_->getters.expire(e.id);  // nothing if it was served just before
    }
    if (g) g->reply.fail(get_timeout_error(label_, g->timeout));
  }

  void on(ExpirePut e) {
    std::optional<typename WaiterList<void, PutWaiting<T>>::Waiter> p;
    {
      std::lock_guard lock(core_->mutex);
      p = core_->putters.expire(e.id);
    }
    if (p) p->reply.fail(put_timeout_error(label_, p->timeout));  // its item is dropped
  }

  // -- tasks -----------------------------------------------------------------------------------

  void on(AllDone) {
    // As Python's join, which looks again when woken: a zero that more work ended before
    // this message was handled answers nobody; the next zero will.
    if (unfinished() == 0) {
      for (auto& j : std::exchange(joiners_, {})) j.answer();
    }
  }

  void on(Join j) {
    if (unfinished() == 0) {
      j.reply.answer();
    } else {
      joiners_.push_back(std::move(j.reply));
    }
  }

  std::size_t on(CountItems) const {
    std::lock_guard lock(core_->mutex);
    return core_->items.size();
  }
  std::size_t on(CountUnfinished) const { return unfinished(); }

 private:
  std::size_t unfinished() const noexcept {
    return static_cast<std::size_t>(core_->unfinished.load(std::memory_order_acquire));
  }

  std::string label_;
  std::shared_ptr<Core> core_;  // the items and the waiters, shared with the handles
  std::vector<Reply<void>> joiners_;
};

}  // namespace detail
}  // namespace troupe
