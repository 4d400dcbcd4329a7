// troupe/testing.hpp - helpers for tests: a Probe that records what actors send it.
//
//   troupe::System system({.deterministic = true, .seed = 7});
//   troupe::Probe<Reply> probe(system);
//   server.tell(Request{.reply_to = probe.ref()});
//   system.run_until_idle();
//   REQUIRE(probe.next() == Reply{42});
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "troupe/system.hpp"

namespace troupe {

/// An actor that keeps every M it receives, in arrival order.
template <class M>
class ProbeActor final : public Actor {
 public:
  struct Inbox {
    std::mutex mutex;
    std::deque<M> messages;
  };
  explicit ProbeActor(std::shared_ptr<Inbox> inbox) : inbox_(std::move(inbox)) {}
  void on(M message) {
    std::lock_guard lock(inbox_->mutex);
    inbox_->messages.push_back(std::move(message));
  }

 private:
  std::shared_ptr<Inbox> inbox_;
};

/// Records the messages of type M sent to `ref()`, for assertions. Thread-safe.
template <class M>
class Probe {
 public:
  explicit Probe(System& system, std::string name = {})
      : inbox_(std::make_shared<typename ProbeActor<M>::Inbox>()),
        ref_(system.spawn<ProbeActor<M>>(SpawnOptions{.name = std::move(name), .daemon = true},
                                         inbox_)) {}

  /// Where actors under test should send.
  const Ref<ProbeActor<M>>& ref() const noexcept { return ref_; }
  /// Takes the oldest message received and not yet taken, if any. Never blocks.
  std::optional<M> next() {
    std::lock_guard lock(inbox_->mutex);
    if (inbox_->messages.empty()) return std::nullopt;
    M m = std::move(inbox_->messages.front());
    inbox_->messages.pop_front();
    return m;
  }
  /// Messages received and not yet taken.
  std::size_t size() const {
    std::lock_guard lock(inbox_->mutex);
    return inbox_->messages.size();
  }

 private:
  std::shared_ptr<typename ProbeActor<M>::Inbox> inbox_;
  Ref<ProbeActor<M>> ref_;
};

}  // namespace troupe
