// troupe/detail/work_queue_actor.hpp - the daemon actor behind WorkQueue<T>. Not public API.
//
// The items live in QueueCore, which the handles share with the actor, under a mutex held
// only for a push or a pop (never while a future is completed or user code runs). A put
// that finds room and nobody waiting, and a get that finds an item and nobody waiting
// before it, are served by the handle itself: a put returns a future that is already
// complete, a get one that already holds its item. Nothing is sent, so a producer and a
// consumer that keep up with each other move batches without a round trip (issue 14: a
// put, get and task_done each used to be a request and its answer). Everything that
// waits goes to the actor, as before: a get on an empty queue, a put on a full one,
// timeouts, consumers that end while waiting, join. Invariants: consumers wait only while
// no item is queued, producers wait only while the queue is full; so at most one of
// `getters_` and `putters_` is non-empty, and an item never waits next to a waiting getter.
//
// Order. Waiting getters and putters are served in arrival order, and one sender's puts
// keep their order: a handle serves itself only if no request of its kind is waiting at
// the actor or on its way there (`gets`/`puts` count both). A put that finds a getter
// waiting still queues its item itself and tells the actor to `Serve` the waiting getters
// from the queue, oldest first; a get that makes room while a producer waits tells it
// `Room`. One of each is on its way at a time (`serve_sent`, `room_sent`): the actor
// handles all that is there when it gets one.
//
// Tasks. The unfinished count is an atomic in the core: a put counts its task before it
// returns, task_done takes it back with no message at all, and only the task_done that
// brings it to zero tells the actor (`AllDone`) to answer the joins waiting.
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

/// What a WorkQueue's handles share with its actor: the items and who waits for them (see
/// the top of this file). The lock guards every field not marked atomic or const.
template <class T, class Compare>
struct QueueCore {
  QueueCore(QueueOrder order, std::size_t capacity_, Compare compare, std::string label_)
      : items(order, std::move(compare)), capacity(capacity_), label(std::move(label_)) {}

  /// Room for one more item.
  bool has_room() const noexcept { return capacity == 0 || items.size() < capacity; }
  /// No get waiting or on its way to the actor: a get may serve itself.
  bool no_getters() const noexcept { return gets == 0 && parked_getters == 0; }
  /// No put waiting or on its way: a put may serve itself.
  bool no_putters() const noexcept { return puts == 0 && parked_putters == 0; }

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

  SpinLock mutex;
  std::atomic<std::int64_t> unfinished{0};  // put and not yet task_done (beside the lock:
                                            // a get and its task_done find the line here)
  WorkItems<T, Compare> items;
  const std::size_t capacity;  // 0: unbounded
  std::size_t gets = 0;           // Gets sent and not yet handled
  std::size_t puts = 0;           // Puts sent and not yet handled
  std::size_t parked_getters = 0; // the actor's getters_ (some may have ended: their Down comes)
  std::size_t parked_putters = 0; // the actor's putters_
  bool serve_sent = false;        // a Serve is on its way to the actor
  bool room_sent = false;         // a Room is on its way to the actor
  bool closed = false;            // the actor has ended: every call fails with Cancelled
  const std::string label;
};

template <class T, class Compare>
class WorkQueueActor final : public Actor {
 public:
  using Core = QueueCore<T, Compare>;

  // -- messages (sent by WorkQueue<T>) ---------------------------------------------------------
  struct Put {
    T item;
    Reply<void> reply;
    Clock::duration timeout;
  };
  /// A put queued an item while getters wait: hand them what is queued.
  struct Serve {};
  struct Get {
    Reply<T> reply;
    Clock::duration timeout;
    Ref<Actor> getter;  // the asking actor, or empty for a plain thread
  };
  /// A get served by its handle made room while producers wait.
  struct Room {};
  /// The unfinished count reached zero: answer the joins if it still is.
  struct AllDone {};
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

  WorkQueueActor(WhenFull when_full, std::shared_ptr<Core> core)
      : when_full_(when_full), label_(core->label), core_(std::move(core)) {}

  ~WorkQueueActor() override {
    std::vector<T> dropped;  // destroyed after the lock: an item's destructor is user code
    {
      std::lock_guard lock(core_->mutex);
      core_->closed = true;
      dropped.reserve(core_->items.size());
      while (!core_->items.empty()) dropped.push_back(core_->items.pop());
    }
    getters_.fail_all(queue_stopped_error("get on", label_));
    putters_.fail_all(queue_stopped_error("put on", label_));
    for (auto& j : joiners_) j.fail(queue_stopped_error("join on", label_));
  }

  // -- producers -------------------------------------------------------------------------------

  void on(Put p) {
    Answers out;
    bool full = false;
    {
      std::lock_guard lock(core_->mutex);
      --core_->puts;
      if (putters_.empty() && core_->has_room()) {
        admit(std::move(p.item), out);
        out.put_replies.push_back(std::move(p.reply));
      } else if (when_full_ == WhenFull::reject || p.timeout <= Clock::duration::zero()) {
        full = true;
      } else {
        putters_.park(
            std::move(p.reply), {}, p.timeout,
            [&](std::uint64_t id) { return after(p.timeout, self<WorkQueueActor>(), ExpirePut{id}); },
            Waiting{std::move(p.item)});
      }
      publish();
    }
    if (full) p.reply.fail(queue_full_error(label_, core_->capacity));
    out.send();
  }

  void on(Serve) {
    Answers out;
    {
      std::lock_guard lock(core_->mutex);
      core_->serve_sent = false;
      while (!core_->items.empty()) {
        auto g = getters_.take_oldest();  // skips consumers that ended while waiting
        if (!g) break;
        out.got.emplace_back(std::move(g->reply), core_->items.pop());
      }
      admit_putters(out);
      publish();
    }
    out.send();
  }

  void on(ExpirePut e) {
    std::optional<typename WaiterList<void, Waiting>::Waiter> p;
    {
      std::lock_guard lock(core_->mutex);
      p = putters_.expire(e.id);
      publish();
    }
    if (p) p->reply.fail(put_timeout_error(label_, p->timeout));
  }

  void on(Room) {
    Answers out;
    {
      std::lock_guard lock(core_->mutex);
      core_->room_sent = false;
      admit_putters(out);
      publish();
    }
    out.send();
  }

  // -- consumers -------------------------------------------------------------------------------

  void on(Get g) {
    Answers out;
    bool empty = false;
    {
      std::lock_guard lock(core_->mutex);
      --core_->gets;
      if (g.getter && !g.getter.alive()) return;  // its consumer ended: the reply cancels itself
      if (!core_->items.empty()) {
        out.got.emplace_back(std::move(g.reply), core_->items.pop());
        admit_putters(out);
      } else if (g.timeout <= Clock::duration::zero()) {
        empty = true;
      } else {
        if (watched_.first(g.getter)) watch(g.getter);
        getters_.park(std::move(g.reply), std::move(g.getter), g.timeout, [&](std::uint64_t id) {
          return after(g.timeout, self<WorkQueueActor>(), ExpireGet{id});
        });
      }
      publish();
    }
    if (empty) g.reply.fail(get_timeout_error(label_, g.timeout));
    out.send();
  }

  void on(ExpireGet e) {
    std::optional<typename WaiterList<T>::Waiter> g;
    {
      std::lock_guard lock(core_->mutex);
      g = getters_.expire(e.id);
      publish();
    }
    if (g) g->reply.fail(get_timeout_error(label_, g->timeout));
  }

  /// A consumer that ended while waiting must not be handed an item: it would be lost.
  void on(const Down& d) {
    watched_.ended(d.actor);
    std::lock_guard lock(core_->mutex);
    getters_.drop_from(d.actor);
    publish();
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
  /// What a producer waiting for room keeps: its item.
  struct Waiting {
    T item;
  };

  /// Replies decided under the core's lock and sent after it (completing a future runs its
  /// callbacks, which may call this queue again).
  struct Answers {
    std::vector<std::pair<Reply<T>, T>> got;  // getters and their items
    std::vector<Reply<void>> put_replies;     // puts that are in
    void send() {
      for (auto& [reply, item] : got) reply.answer(std::move(item));
      for (auto& reply : put_replies) reply.answer();
    }
  };

  std::size_t unfinished() const noexcept {
    return static_cast<std::size_t>(core_->unfinished.load(std::memory_order_acquire));
  }

  /// Tells the handles who waits here. Lock held.
  void publish() noexcept {
    core_->parked_getters = getters_.size();
    core_->parked_putters = putters_.size();
  }

  /// A new item enters (lock held): its task is counted, then it is placed.
  void admit(T item, Answers& out) {
    core_->unfinished.fetch_add(1, std::memory_order_relaxed);
    place(std::move(item), out);
  }

  /// An item whose task is counted goes straight to the first live waiting consumer, else
  /// into the queue. Lock held.
  void place(T item, Answers& out) {
    if (auto g = getters_.take_oldest()) {  // skips consumers that ended while waiting
      out.got.emplace_back(std::move(g->reply), std::move(item));
      return;
    }
    core_->items.push(std::move(item));
  }

  /// Room was made: let waiting producers in, in arrival order. Lock held.
  void admit_putters(Answers& out) {
    while (core_->has_room()) {
      auto p = putters_.take_oldest();
      if (!p) return;
      admit(std::move(p->data.item), out);
      out.put_replies.push_back(std::move(p->reply));
    }
  }

  WhenFull when_full_;
  std::string label_;
  std::shared_ptr<Core> core_;          // the items, shared with the handles
  WaiterList<T> getters_;               // waiting consumers, by arrival
  WaiterList<void, Waiting> putters_;   // producers waiting for room, by arrival
  std::vector<Reply<void>> joiners_;
  WatchedOnce watched_;  // consumers watched (each once, until Down)
};

}  // namespace detail
}  // namespace troupe
