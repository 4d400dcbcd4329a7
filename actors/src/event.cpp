// event.cpp - Event: the handle and the daemon actor that keeps the waiters.
//
// The flag is an atomic in a core shared by the handles and the actor. A wait without a
// timeout (the common one) parks its promise in the core, under the core's lock, after
// checking the flag there; `set` stores the flag and then takes the core's waiters under
// the same lock and answers them on its own thread: either the waiter was parked first
// and is taken, or it locked after and saw the flag. No message, no wake-up lost.
//
// A wait with a timeout goes to the actor, which keeps it with its timer. `set` tells the
// actor only while such waits exist (`timed` counts them from the moment they are sent);
// a wait reaching the actor checks the flag first. A timed waiter counts itself before it
// sends, after it saw the flag unset: a set that then found the count zero stored the flag
// before that, and the actor's check finds it.
#include "troupe/event.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "troupe/detail/spin_lock.hpp"
#include "troupe/detail/waiter_list.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/system.hpp"

namespace troupe {
namespace detail {

struct EventCore {
  std::atomic<bool> flag{false};
  std::atomic<std::uint64_t> timed{0};  // waits with a timeout sent to the actor, not yet answered
  SpinLock lock;
  std::vector<Reply<bool>> waiters;  // waits without a timeout (guarded by lock)
  bool closed = false;               // the actor has ended (guarded by lock)
};

namespace {

struct Set {};
struct Wait {
  Reply<bool> reply;
  Clock::duration timeout;
};
struct Expire {
  std::uint64_t id;
};
struct CountWaiting {};

constexpr const char* kCancelledInFlight =
    "Event::wait cancelled: the event's actor has stopped (the system is shutting down)";

}  // namespace

class EventActor final : public Actor {
 public:
  EventActor(std::shared_ptr<EventCore> core, std::string label)
      : core_(std::move(core)), label_(std::move(label)) {}

  ~EventActor() override {
    auto why = make_error<Cancelled>("wait on " + label_ +
                                     " cancelled: the event stopped (the system is shutting down)");
    waiters_.fail_all(why);
    std::vector<Reply<bool>> untimed;
    {
      std::lock_guard lock(core_->lock);
      core_->closed = true;  // waits from now on fail at once
      untimed.swap(core_->waiters);
    }
    for (auto& reply : untimed) reply.fail(why);
  }

  void on(Set) {
    auto released = waiters_.take_all();
    core_->timed.fetch_sub(released.size(), std::memory_order_acq_rel);
    for (auto& waiter : released) waiter.reply.answer(true);
  }

  void on(Wait w) {
    if (core_->flag.load(std::memory_order_seq_cst)) {
      core_->timed.fetch_sub(1, std::memory_order_acq_rel);
      w.reply.answer(true);
      return;
    }
    waiters_.park(std::move(w.reply), {}, w.timeout, [&](std::uint64_t id) {
      return after(w.timeout, self<EventActor>(), Expire{id});
    });
  }

  void on(Expire e) {
    if (auto waiter = waiters_.expire(e.id)) {
      core_->timed.fetch_sub(1, std::memory_order_acq_rel);
      waiter->reply.answer(false);
    }
  }

  std::size_t on(CountWaiting) const {
    std::lock_guard lock(core_->lock);
    return waiters_.size() + core_->waiters.size();
  }

 private:
  std::shared_ptr<EventCore> core_;
  std::string label_;
  WaiterList<bool> waiters_;  // the waits with a timeout
};

}  // namespace detail

Event::Event(System& system, std::string name) {
  auto core = std::make_shared<detail::EventCore>();
  std::string label = detail::label("event", name);
  auto actor = system.spawn<detail::EventActor>(
      SpawnOptions{.name = std::move(name), .daemon = true}, core, std::move(label));
  shared_ = std::make_shared<detail::EventShared>(std::move(actor), std::move(core));
}

void Event::set() const {
  detail::EventCore& core = *shared_->state;
  // Only the call that flips the flag releases anyone: waiters parked before an earlier
  // flip were taken by it, and later ones see the flag.
  if (core.flag.exchange(true, std::memory_order_seq_cst)) return;
  std::vector<detail::Reply<bool>> released;
  {
    std::lock_guard lock(core.lock);
    released.swap(core.waiters);
  }
  for (auto& reply : released) reply.answer(true);
  if (core.timed.load(std::memory_order_seq_cst) != 0) shared_->actor.tell(detail::Set{});
}

void Event::clear() const noexcept { shared_->state->flag.store(false, std::memory_order_seq_cst); }

bool Event::is_set() const noexcept { return shared_->state->flag.load(std::memory_order_acquire); }

Future<bool> Event::wait(Clock::duration timeout) const {
  if (is_set()) return Future<bool>::ready_with(true);
  if (timeout <= Clock::duration::zero()) return Future<bool>::ready_with(false);
  detail::EventCore& core = *shared_->state;
  Promise<bool> promise;
  Future<bool> future = promise.future();
  detail::Reply<bool> reply(std::move(promise), detail::kCancelledInFlight);
  if (!detail::has_timeout(timeout)) {
    std::unique_lock lock(core.lock);
    if (core.closed) {
      lock.unlock();
      return future;  // `reply` is dropped unanswered: Cancelled
    }
    if (core.flag.load(std::memory_order_seq_cst)) {
      lock.unlock();
      reply.answer(true);
      return future;
    }
    core.waiters.push_back(std::move(reply));
    return future;
  }
  core.timed.fetch_add(1, std::memory_order_seq_cst);
  shared_->actor.tell(detail::Wait{std::move(reply), timeout});
  return future;
}

Future<std::size_t> Event::waiting() const { return shared_->actor.ask(detail::CountWaiting{}); }

}  // namespace troupe
