// event.cpp - Event: the handle and the daemon actor that keeps the waiters.
//
// The flag itself is an atomic shared by the handles and the actor; the actor only keeps
// waiters. `set` stores the flag and then tells the actor to release everyone waiting; a
// wait reaching the actor checks the flag first. Because set stores before it sends, a
// waiter the actor parks was either parked before that Set message arrives (and is
// released by it) or saw the flag already set: no wake-up is lost.
#include "troupe/event.hpp"

#include <atomic>
#include <cstdint>
#include <utility>

#include "troupe/detail/waiter_list.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/system.hpp"

namespace troupe {
namespace detail {

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
  EventActor(std::shared_ptr<std::atomic<bool>> flag, std::string label)
      : flag_(std::move(flag)), label_(std::move(label)) {}

  ~EventActor() override {
    waiters_.fail_all(make_error<Cancelled>(
        "wait on " + label_ + " cancelled: the event stopped (the system is shutting down)"));
  }

  void on(Set) {
    for (auto& waiter : waiters_.take_all()) waiter.reply.answer(true);
  }

  void on(Wait w) {
    if (flag_->load(std::memory_order_acquire)) {
      w.reply.answer(true);
      return;
    }
    waiters_.park(std::move(w.reply), {}, w.timeout, [&](std::uint64_t id) {
      return after(w.timeout, self<EventActor>(), Expire{id});
    });
  }

  void on(Expire e) {
    if (auto waiter = waiters_.expire(e.id)) waiter->reply.answer(false);
  }

  std::size_t on(CountWaiting) const { return waiters_.size(); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
  std::string label_;
  WaiterList<bool> waiters_;
};

}  // namespace detail

Event::Event(System& system, std::string name) {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  std::string label = detail::label("event", name);
  auto actor = system.spawn<detail::EventActor>(
      SpawnOptions{.name = std::move(name), .daemon = true}, flag, std::move(label));
  shared_ = std::make_shared<detail::EventShared>(std::move(actor), std::move(flag));
}

void Event::set() const {
  // Only the call that flips the flag sends: waiters parked before an earlier, still
  // unanswered flip are released by that flip's message, and later ones see the flag.
  if (!shared_->state->exchange(true, std::memory_order_acq_rel)) shared_->actor.tell(detail::Set{});
}

void Event::clear() const noexcept { shared_->state->store(false, std::memory_order_release); }

bool Event::is_set() const noexcept { return shared_->state->load(std::memory_order_acquire); }

Future<bool> Event::wait(Clock::duration timeout) const {
  if (is_set()) return Future<bool>::ready_with(true);
  if (timeout <= Clock::duration::zero()) return Future<bool>::ready_with(false);
  Promise<bool> promise;
  Future<bool> future = promise.future();
  shared_->actor.tell(
      detail::Wait{detail::Reply<bool>(std::move(promise), detail::kCancelledInFlight), timeout});
  return future;
}

Future<std::size_t> Event::waiting() const { return shared_->actor.ask(detail::CountWaiting{}); }

}  // namespace troupe
