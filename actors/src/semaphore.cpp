// semaphore.cpp - Semaphore, Permit and the daemon actor that keeps the count.
//
// Every permit handed out gets an id and is recorded with the actor that acquired it (if
// any). A Permit's release sends its id back; an id the semaphore no longer knows (taken
// back from a holder that ended) is ignored, so a permit can never be returned twice.
// The actor watches each holder once; its Down returns whatever that holder still had.
#include "troupe/semaphore.hpp"

#include <cstdio>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "troupe/detail/cell.hpp"
#include "troupe/detail/waiter_list.hpp"
#include "troupe/detail/waiters.hpp"
#include "troupe/system.hpp"
#include "troupe/usage_error.hpp"

namespace troupe {
namespace detail {

namespace {

struct Acquire {
  Reply<Permit> reply;
  Clock::duration timeout;
  Ref<Actor> holder;  // the acquiring actor, or empty for a plain thread
};
struct Release {
  std::uint64_t id;
};
struct Detach {
  std::uint64_t id;
};
struct ReleaseDetached {
  Reply<void> reply;
  Ref<Actor> caller;
};
struct Expire {
  std::uint64_t id;
};
struct CountAvailable {};
struct CountWaiting {};

constexpr const char* kAcquireCancelled =
    "Semaphore::acquire cancelled: the semaphore's actor has stopped (the system is shutting "
    "down)";
constexpr const char* kReleaseCancelled =
    "Semaphore::release cancelled: the semaphore's actor has stopped (the system is shutting "
    "down)";

}  // namespace

class SemaphoreActor final : public Actor {
 public:
  SemaphoreActor(unsigned permits, bool bounded, std::string label)
      : limit_(permits), free_(permits), bounded_(bounded), label_(std::move(label)) {}

  ~SemaphoreActor() override {
    waiters_.fail_all(make_error<Cancelled>(
        "acquire on " + label_ + " cancelled: the semaphore stopped (the system is shutting down)"));
  }

  // -- acquiring -------------------------------------------------------------------------------

  void on(Acquire a) {
    if (a.holder && !a.holder.alive()) return;  // its acquirer ended: the reply cancels itself
    if (waiters_.empty() && free_ > 0) {
      --free_;
      grant(a.reply, std::move(a.holder));
      return;
    }
    if (a.timeout <= Clock::duration::zero()) {
      a.reply.fail(make_error<TimeoutError>("no permit of " + label_ + " is free"));
      return;
    }
    watch_holder(a.holder);
    waiters_.park(std::move(a.reply), std::move(a.holder), a.timeout, [&](std::uint64_t id) {
      return after(a.timeout, self<SemaphoreActor>(), Expire{id});
    });
  }

  void on(Expire e) {
    if (auto w = waiters_.expire(e.id)) {  // else served just before its timer fired
      w->reply.fail(make_error<TimeoutError>("no permit of " + label_ + " within " +
                                             describe_duration(w->timeout)));
    }
  }

  // -- releasing -------------------------------------------------------------------------------

  void on(Release r) {
    auto it = held_.find(r.id);
    if (it == held_.end()) return;  // already taken back from a holder that ended
    held_.erase(it);
    give_back(1);
  }

  void on(Detach d) {
    auto it = held_.find(d.id);
    if (it != held_.end()) it->second.detached = true;
  }

  void on(ReleaseDetached r) {
    auto chosen = held_.end();
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (!it->second.detached) continue;
      if (it->second.holder == r.caller) {  // the caller's own first
        chosen = it;
        break;
      }
      if (chosen == held_.end()) chosen = it;  // else the oldest
    }
    if (chosen != held_.end()) {
      held_.erase(chosen);
    } else if (bounded_) {
      r.reply.fail(make_error<UsageError>(
          "release of bounded " + label_ + " refused: it would exceed its " +
          std::to_string(limit_) + " permit(s); no detached permit is outstanding"));
      return;
    }
    give_back(1);
    r.reply.answer();
  }

  // -- holders that end ------------------------------------------------------------------------

  void on(const Down& d) {
    watched_.ended(d.actor);
    waiters_.drop_from(d.actor);
    unsigned reclaimed = 0;
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->second.holder == d.actor) {
        it = held_.erase(it);
        ++reclaimed;
      } else {
        ++it;
      }
    }
    give_back(reclaimed);
  }

  // -- inspection ------------------------------------------------------------------------------

  unsigned on(CountAvailable) const { return free_; }
  std::size_t on(CountWaiting) const { return waiters_.size(); }

 private:
  struct Held {
    Ref<Actor> holder;
    bool detached = false;
  };

  /// Hands a permit (already taken off `free_`) to `reply`'s future.
  void grant(Reply<Permit>& reply, Ref<Actor> holder) {
    std::uint64_t id = ++last_id_;
    watch_holder(holder);
    held_.emplace(id, Held{std::move(holder), false});
    reply.answer(Permit(self<SemaphoreActor>(), id));
  }

  /// `n` permits come back: to the waiters first, in arrival order, then to the free count.
  void give_back(unsigned n) {
    for (; n > 0; --n) {
      auto w = waiters_.take_oldest();  // skips holders that ended while waiting
      if (!w) break;
      grant(w->reply, std::move(w->who));
    }
    free_ += n;
  }

  void watch_holder(const Ref<Actor>& holder) {
    if (watched_.first(holder)) watch(holder);
  }

  unsigned limit_;
  unsigned free_;
  bool bounded_;
  std::string label_;
  WaiterList<Permit> waiters_;          // by arrival: strictly FIFO
  std::map<std::uint64_t, Held> held_;  // permits out, by id (oldest first)
  WatchedOnce watched_;                 // holders watched (each once, until Down)
  std::uint64_t last_id_ = 0;
};

}  // namespace detail

// -- Permit --------------------------------------------------------------------------------------

Permit::Permit(Ref<detail::SemaphoreActor> semaphore, std::uint64_t id) noexcept
    : semaphore_(std::move(semaphore)), id_(id) {}

Permit::Permit(Permit&& other) noexcept
    : semaphore_(std::move(other.semaphore_)), id_(std::exchange(other.id_, 0)) {}

Permit& Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    release();
    semaphore_ = std::move(other.semaphore_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

Permit::~Permit() { release(); }

void Permit::release() noexcept {
  if (id_ == 0) return;
  std::uint64_t id = std::exchange(id_, 0);
  Ref<detail::SemaphoreActor> semaphore = std::move(semaphore_);
  if (!semaphore.alive()) return;  // stopped: nothing to give back to
  try {
    semaphore.tell(detail::Release{id});
  } catch (...) {  // out of memory: the permit is lost rather than the program
    std::fputs("troupe: out of memory: a semaphore permit's release was lost\n", stderr);
  }
}

void Permit::detach() noexcept {
  if (id_ == 0) return;
  std::uint64_t id = std::exchange(id_, 0);
  Ref<detail::SemaphoreActor> semaphore = std::move(semaphore_);
  if (!semaphore.alive()) return;
  try {
    semaphore.tell(detail::Detach{id});
  } catch (...) {  // out of memory: the permit stays tied to its holder's life instead
    std::fputs("troupe: out of memory: a semaphore permit's detach was lost\n", stderr);
  }
}

// -- Semaphore -----------------------------------------------------------------------------------

Semaphore::Semaphore(System& system, unsigned permits, SemaphoreOptions options) {
  std::string label = detail::label("semaphore", options.name);
  auto actor = system.spawn<detail::SemaphoreActor>(
      SpawnOptions{.name = std::move(options.name), .daemon = true}, permits, options.bounded,
      std::move(label));
  shared_ = std::make_shared<detail::SemaphoreShared>(std::move(actor));
}

unsigned Semaphore::checked_permits(long long permits) {
  if (permits < 0 ||
      static_cast<unsigned long long>(permits) > std::numeric_limits<unsigned>::max()) {
    throw std::invalid_argument("Semaphore: permits must be between 0 and " +
                                std::to_string(std::numeric_limits<unsigned>::max()) + ", not " +
                                std::to_string(permits));
  }
  return static_cast<unsigned>(permits);
}

Future<Permit> Semaphore::acquire(Clock::duration timeout) const {
  Promise<Permit> promise;
  Future<Permit> future = promise.future();
  shared_->actor.tell(
      detail::Acquire{detail::Reply<Permit>(std::move(promise), detail::kAcquireCancelled), timeout,
                      detail::current_actor()});
  return future;
}

Future<void> Semaphore::release() const {
  Promise<void> promise;
  Future<void> future = promise.future();
  shared_->actor.tell(detail::ReleaseDetached{
      detail::Reply<void>(std::move(promise), detail::kReleaseCancelled), detail::current_actor()});
  return future;
}

Future<unsigned> Semaphore::available() const { return shared_->actor.ask(detail::CountAvailable{}); }

Future<std::size_t> Semaphore::waiting() const { return shared_->actor.ask(detail::CountWaiting{}); }

}  // namespace troupe
