// troupe/detail/work_queue_actor.hpp - the daemon actor behind WorkQueue<T>. Not public API.
//
// The actor's mailbox is the many-producer queue: every put, get and task_done is a message,
// handled one at a time, so the state below needs no lock. Invariants: consumers wait only
// while no item is queued, producers wait only while the queue is full; so at most one of
// `getters_` and `putters_` is non-empty, and an item never waits next to a waiting getter.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/actor.hpp"
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

template <class T, class Compare>
class WorkQueueActor final : public Actor {
 public:
  // -- messages (sent by WorkQueue<T>) ---------------------------------------------------------
  struct Put {
    T item;
    Reply<void> reply;
    Clock::duration timeout;
  };
  struct Get {
    Reply<T> reply;
    Clock::duration timeout;
    Ref<Actor> getter;  // the asking actor, or empty for a plain thread
  };
  struct TaskDone {
    Reply<void> reply;
  };
  struct Join {
    Reply<void> reply;
  };
  struct CountItems {};
  struct CountUnfinished {};
  struct ExpirePut {
    std::uint64_t id;
  };
  struct ExpireGet {
    std::uint64_t id;
  };

  WorkQueueActor(QueueOrder order, std::size_t capacity, WhenFull when_full, Compare compare,
                 std::string label)
      : items_(order, std::move(compare)),
        capacity_(capacity),
        when_full_(when_full),
        label_(std::move(label)) {}

  ~WorkQueueActor() override {
    getters_.fail_all(queue_stopped_error("get on", label_));
    putters_.fail_all(queue_stopped_error("put on", label_));
    for (auto& j : joiners_) j.fail(queue_stopped_error("join on", label_));
  }

  // -- producers -------------------------------------------------------------------------------

  void on(Put p) {
    if (has_room()) {
      admit(std::move(p.item));
      p.reply.answer();
      return;
    }
    if (when_full_ == WhenFull::reject || p.timeout <= Clock::duration::zero()) {
      p.reply.fail(queue_full_error(label_, capacity_));
      return;
    }
    putters_.park(
        std::move(p.reply), {}, p.timeout,
        [&](std::uint64_t id) { return after(p.timeout, self<WorkQueueActor>(), ExpirePut{id}); },
        Waiting{std::move(p.item)});
  }

  void on(ExpirePut e) {
    if (auto p = putters_.expire(e.id)) p->reply.fail(put_timeout_error(label_, p->timeout));
  }

  // -- consumers -------------------------------------------------------------------------------

  void on(Get g) {
    if (g.getter && !g.getter.alive()) return;  // its consumer ended: the reply cancels itself
    if (!items_.empty()) {
      g.reply.answer(items_.pop());
      admit_waiting_putters();
      return;
    }
    if (g.timeout <= Clock::duration::zero()) {
      g.reply.fail(get_timeout_error(label_, g.timeout));
      return;
    }
    if (watched_.first(g.getter)) watch(g.getter);
    getters_.park(std::move(g.reply), std::move(g.getter), g.timeout, [&](std::uint64_t id) {
      return after(g.timeout, self<WorkQueueActor>(), ExpireGet{id});
    });
  }

  void on(ExpireGet e) {
    if (auto g = getters_.expire(e.id)) g->reply.fail(get_timeout_error(label_, g->timeout));
  }

  /// A consumer that ended while waiting must not be handed an item: it would be lost.
  void on(const Down& d) {
    watched_.ended(d.actor);
    getters_.drop_from(d.actor);
  }

  // -- tasks -----------------------------------------------------------------------------------

  void on(TaskDone t) {
    if (unfinished_ == 0) {
      t.reply.fail(task_done_error(label_));
      return;
    }
    if (--unfinished_ == 0) {
      for (auto& j : std::exchange(joiners_, {})) j.answer();
    }
    t.reply.answer();
  }

  void on(Join j) {
    if (unfinished_ == 0) {
      j.reply.answer();
    } else {
      joiners_.push_back(std::move(j.reply));
    }
  }

  std::size_t on(CountItems) const { return items_.size(); }
  std::size_t on(CountUnfinished) const { return unfinished_; }

 private:
  /// What a producer waiting for room keeps: its item.
  struct Waiting {
    T item;
  };

  bool has_room() const noexcept { return capacity_ == 0 || items_.size() < capacity_; }

  /// An item enters the queue: straight to the first live waiting consumer, else queued.
  void admit(T item) {
    ++unfinished_;
    if (auto g = getters_.take_oldest()) {  // skips consumers that ended while waiting
      g->reply.answer(std::move(item));
      return;
    }
    items_.push(std::move(item));
  }

  /// Room was made: let waiting producers in, in arrival order.
  void admit_waiting_putters() {
    while (has_room()) {
      auto p = putters_.take_oldest();
      if (!p) return;
      admit(std::move(p->data.item));
      p->reply.answer();
    }
  }

  WorkItems<T, Compare> items_;
  std::size_t capacity_;
  WhenFull when_full_;
  std::string label_;
  std::size_t unfinished_ = 0;  // put and not yet task_done (Python's unfinished_tasks)
  WaiterList<T> getters_;             // waiting consumers, by arrival
  WaiterList<void, Waiting> putters_;  // producers waiting for room, by arrival
  std::vector<Reply<void>> joiners_;
  WatchedOnce watched_;  // consumers watched (each once, until Down)
};

}  // namespace detail
}  // namespace troupe
