// troupe/work_queue.hpp - WorkQueue<T>: Python's Queue / LifoQueue / PriorityQueue as an actor.
//
//   troupe::WorkQueue<std::string> jobs(system, {.capacity = 100});
//   co_await jobs.put("resize cat.png");          // a producer (waits while the queue is full)
//
//   troupe::Task<void> on(const Work&) {          // a consumer actor's loop
//     try {
//       for (;;) {
//         std::string job = co_await jobs.get();
//         handle(job);
//         jobs.task_done();
//       }
//     } catch (const troupe::Cancelled&) {        // the system is shutting down
//     }
//   }
//
//   jobs.join().get(30s);                         // every item put has been task_done
//
// put, get, task_done and join mean what they mean in Python. Waiting never blocks a
// worker: the futures are co_awaited inside actors, or waited on with get(timeout) from
// plain threads. A consumer actor that ends while waiting in `get` is never handed an item.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "troupe/detail/waiters.hpp"
#include "troupe/detail/work_queue_actor.hpp"
#include "troupe/system.hpp"

namespace troupe {

/// A bounded WorkQueue with `WhenFull::reject` refused an item. A kind of MailboxFull:
/// whoever handles back-pressure from mailboxes handles it from queues too.
class TROUPE_API QueueFull : public MailboxFull {
 public:
  using MailboxFull::MailboxFull;
};

/// How a WorkQueue is built. Aggregate: `{.order = QueueOrder::lifo, .capacity = 10}`.
struct WorkQueueOptions {
  /// fifo, lifo, or priority (smallest first by the queue's comparator).
  QueueOrder order = QueueOrder::fifo;
  /// Most items queued at once; 0 means unbounded.
  std::size_t capacity = 0;
  /// What `put` does when the queue is full: wait for room, or reject.
  WhenFull when_full = WhenFull::wait;
  /// Names the queue's actor; appears in error messages. Optional.
  std::string name{};
};

/// A queue of work items of type T shared by many producers and consumers, kept by a
/// daemon system actor. Copyable: copies share one queue. Every member is thread-safe and
/// never blocks: put and get take the queue's lock for a push, a pop or a hand-off to a
/// waiter (the item's move and, in priority order, `Compare` run under it; no future is
/// completed there). The queue's daemon actor keeps the timers of waits with a timeout and
/// the joins. It is stopped when the last copy is gone (after what was already sent to it)
/// or when the system shuts down: every pending put, get and join then fails with
/// troupe::Cancelled, and queued items are destroyed.
///
/// T must be movable; move-only items (a `std::unique_ptr`) are fine: a queue never copies
/// them, and `get` hands each to its future's one owner (`std::move(future).get()`).
/// `Compare` orders a priority queue: smallest first, as Python's PriorityQueue.
template <class T, class Compare = std::less<T>>
class WorkQueue {
 public:
  /// Spawns the queue's daemon actor. Throws ShutdownError if the system is shutting down,
  /// std::invalid_argument if the name is taken or priority order is asked for a T that
  /// `Compare` cannot compare.
  ///
  ///   troupe::WorkQueue<int> fifo(system);
  ///   troupe::WorkQueue<Job, ByDeadline> urgent(system, {.order = troupe::QueueOrder::priority});
  explicit WorkQueue(System& system, WorkQueueOptions options = {}, Compare compare = Compare()) {
    if (options.order == QueueOrder::priority && !detail::WorkItems<T, Compare>::kComparable) {
      throw std::invalid_argument("WorkQueue: priority order needs a Compare that orders T");
    }
    core_ = std::make_shared<Core>(options.order, options.capacity, options.when_full,
                                   std::move(compare), detail::label("work queue", options.name));
    auto actor = system.spawn<QueueActor>(
        SpawnOptions{.name = std::move(options.name), .daemon = true}, core_);
    shared_ = std::make_shared<detail::Shared<QueueActor>>(std::move(actor));
  }

  /// Puts `item` in the queue. The future completes once the item is in: at once (complete
  /// on return, nothing sent) if a consumer waits (it gets the item) or there is room;
  /// with the queue full it waits up to `timeout` (then fails with TimeoutError, the item
  /// dropped), or fails at once with QueueFull under `WhenFull::reject` or a zero timeout.
  /// Counts one unfinished task (see task_done) when the item enters.
  Future<void> put(T item, Clock::duration timeout = Clock::duration::max()) const {
    Core& c = *core_;
    std::optional<typename detail::WaiterList<T>::Waiter> consumer;
    Future<void> future;
    std::uint64_t parked = 0;
    {
      std::unique_lock lock(c.mutex);
      if (c.closed || !shared_->actor.alive()) {  // the queue has stopped (shutdown)
        return Future<void>::failed(detail::make_error<Cancelled>(detail::kPutCancelled));
      }
      if (c.putters.empty()) {  // (producers wait only while the queue is full)
        consumer = c.getters.take_oldest();  // skips consumers that ended while waiting
        if (consumer || c.has_room()) {
          c.unfinished.fetch_add(1, std::memory_order_relaxed);
          if (!consumer) {
            c.items.push(std::move(item));  // in, and done
            return detail::completed_future();
          }
        }
      }
      if (!consumer) {
        if (c.when_full == WhenFull::reject || timeout <= Clock::duration::zero()) {
          lock.unlock();
          return Future<void>::failed(detail::queue_full_error(c.label, c.capacity));
        }
        Promise<void> promise;  // made only to wait: a put that gets in needs none
        future = promise.future();
        parked = c.putters.park(detail::Reply<void>(std::move(promise), detail::kPutCancelled),
                                {}, timeout, [](std::uint64_t) { return Timer{}; },
                                detail::PutWaiting<T>{std::move(item)});
      }
    }
    if (consumer) {  // the item goes straight to the oldest waiting consumer
      consumer->reply.answer(std::move(item));
      return detail::completed_future();
    }
    if (detail::has_timeout(timeout)) {
      shared_->actor.tell(typename QueueActor::ArmPut{parked, timeout});
    }
    return future;
  }

  /// put() for any duration type, converted without overflow: `hours::max()` or
  /// `milliseconds::max()` mean no timeout, as `Clock::duration::max()` does.
  template <class Rep, class Period>
  Future<void> put(T item, std::chrono::duration<Rep, Period> timeout) const {
    return put(std::move(item), Clock::duration(detail::clamp_timeout(timeout)));
  }

  /// The next item, in the queue's order. Waits up to `timeout` for one (then fails with
  /// TimeoutError; zero means "only if one is queued now"); by default waits without limit.
  /// Waiting consumers are served in arrival order. Called inside an actor, the queue
  /// remembers that actor: if it ended while waiting, it is skipped, so no item is lost. A
  /// plain thread that may stop waiting should pass a timeout here, since an abandoned get
  /// still takes the next item.
  ///
  ///   int job = co_await queue.get();        // in a Task handler
  ///   int job = queue.get(1s).get(2s);       // on a plain thread
  Future<T> get(Clock::duration timeout = Clock::duration::max()) const {
    Core& c = *core_;
    std::optional<T> item;
    std::optional<detail::Reply<void>> producer;  // let in by the room this get made
    Future<T> future;
    std::uint64_t parked = 0;
    {
      std::unique_lock lock(c.mutex);
      if (c.closed || !shared_->actor.alive()) {  // the queue has stopped (shutdown)
        return Future<T>::failed(detail::make_error<Cancelled>(detail::kGetCancelled));
      }
      if (!c.items.empty()) {  // (consumers wait only while the queue is empty)
        item.emplace(c.items.pop());
        producer = c.admit_putter();
      } else if (timeout <= Clock::duration::zero()) {
        lock.unlock();
        return Future<T>::failed(detail::get_timeout_error(c.label, timeout));
      } else {
        Promise<T> promise;
        future = promise.future();
        parked = c.getters.park(detail::Reply<T>(std::move(promise), detail::kGetCancelled),
                                detail::current_actor(), timeout,
                                [](std::uint64_t) { return Timer{}; });
      }
    }
    if (producer) producer->answer();
    if (item) return Future<T>::ready_with(std::move(*item));
    if (detail::has_timeout(timeout)) {
      shared_->actor.tell(typename QueueActor::ArmGet{parked, timeout});
    }
    return future;
  }

  /// get() for any duration type, converted without overflow (see put).
  template <class Rep, class Period>
  Future<T> get(std::chrono::duration<Rep, Period> timeout) const {
    return get(Clock::duration(detail::clamp_timeout(timeout)));
  }

  /// Marks one item got earlier as fully handled. When every item ever put has been
  /// marked, join() completes. Calling it more often than items were put fails the future
  /// with UsageError (Python raises ValueError); ignoring the future is fine otherwise.
  ///
  /// Sends nothing (one atomic operation), except the task_done that finishes the last
  /// unfinished task, which tells the queue's actor to answer the joins. The future is
  /// complete on return.
  Future<void> task_done() const {
    bool last = false;
    if (!core_->finish_task(last)) {
      return Future<void>::failed(detail::task_done_error(core_->label));
    }
    if (last) shared_->actor.tell(typename QueueActor::AllDone{});
    return detail::completed_future();
  }

  /// A future that completes exactly when the number of unfinished tasks (puts minus
  /// task_done calls) reaches zero; at once if it is zero now.
  Future<void> join() const {
    Promise<void> promise;
    Future<void> future = promise.future();
    shared_->actor.tell(
        typename QueueActor::Join{detail::Reply<void>(std::move(promise), detail::kJoinCancelled)});
    return future;
  }

  /// Items queued right now (waiting producers' items not included). An ask to the actor,
  /// so it counts what this caller put before.
  Future<std::size_t> size() const { return shared_->actor.ask(typename QueueActor::CountItems{}); }
  /// Items put and not yet task_done right now. An ask to the actor.
  Future<std::size_t> unfinished() const {
    return shared_->actor.ask(typename QueueActor::CountUnfinished{});
  }

 private:
  using QueueActor = detail::WorkQueueActor<T, Compare>;
  using Core = detail::QueueCore<T, Compare>;

  std::shared_ptr<detail::Shared<QueueActor>> shared_;  // the actor, kept while a copy lives
  std::shared_ptr<Core> core_;  // the items, shared with the actor
};

}  // namespace troupe
