// internal/runtime_messages.hpp - the runtime's own messages to an actor: stop, Down,
// watch, escalate, and a coroutine's resumption. Never installed.
//
// They are not dead letters when rejected, and (except a draining stop and a resumption,
// sent at normal priority to keep their place behind user messages) they overtake user
// messages. A bounded mailbox's overflow policy never applies to them. All but Down run
// while a non-reentrant actor is held; its resumptions then go at urgent priority, past the
// user messages that wait for the hold to end.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <cstdint>
#include <memory>
#include <utility>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "troupe/down.hpp"
#include "troupe/ref.hpp"

namespace troupe::detail {

/// Access to Cell's protected hooks for the runtime's own envelopes.
struct CellAccess {
  static void deliver_down(Cell& cell, const Down& down) { cell.deliver_down(down); }
  static Cold& cold(Cell& cell) { return cell.cold(); }
  static void call_on_start(Cell& cell) { cell.call_on_start(); }
};

/// A coroutine waiting for a future, registered with the actor it must resume on. Shared
/// by the owner's list (Cold::suspended) and the future's callback, then its resumption:
/// an intrusive count, and pooled, since one is made per `co_await` that waits.
struct Suspension : Pooled {
  std::coroutine_handle<> handle;  // resume this
  std::coroutine_handle<> root;    // destroy this if the actor ends first
  Ref<Actor> owner;
  std::atomic<std::uint32_t> refs{1};  // the owner's list holds the first
  std::atomic<bool> claimed{false};  // the future's side: posted a resumption, or gave up
  bool dead = false;                 // the owner's side: frame destroyed (owner's turn only)
  Priority priority = Priority::normal;  // of the resumption: urgent past a held actor's mail
  Suspension* prev = nullptr;  // links in Cold::suspended (owner's turn only)
  Suspension* next = nullptr;
  StateBase::Waker waker;      // what the awaited future calls (it holds a reference)

  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

/// A counted reference to a Suspension (a resumption's).
class SuspensionRef {
 public:
  explicit SuspensionRef(Suspension* s) noexcept : s_(s) { s_->retain(); }
  /// Takes over a reference the caller holds.
  static constexpr struct Adopt {
  } adopt{};
  SuspensionRef(Suspension* s, Adopt) noexcept : s_(s) {}
  SuspensionRef(const SuspensionRef& other) noexcept : s_(other.s_) {
    if (s_ != nullptr) s_->retain();
  }
  SuspensionRef(SuspensionRef&& other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
  SuspensionRef& operator=(const SuspensionRef&) = delete;
  ~SuspensionRef() {
    if (s_ != nullptr) s_->release();
  }
  Suspension* operator->() const noexcept { return s_; }
  Suspension& operator*() const noexcept { return *s_; }

 private:
  Suspension* s_;
};

/// Takes `s` off its owner's list, dropping the list's reference. Owner's turn only.
void unlist(Cold& c, Suspension& s) noexcept;

/// The runtime's own messages: not dead letters when rejected, and they overtake others.
template <class Payload>
struct RuntimeEnvelope : Carrying<Payload> {
  using Carrying<Payload>::Carrying;
  bool counts_as_dead_letter() const noexcept override { return false; }
  bool is_system() const noexcept override { return true; }
  bool runs_while_held() const noexcept override { return true; }
};

/// A child's failure, raised again inside its parent (OnFailure::escalate).
struct EscalateEnvelope final : RuntimeEnvelope<std::exception_ptr> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell&) override { std::rethrow_exception(payload); }
};

struct Nothing {};

struct StartEnvelope final : RuntimeEnvelope<Nothing> {
  void deliver(Cell& target) override { CellAccess::call_on_start(target); }
};

struct StopEnvelope final : RuntimeEnvelope<Nothing> {
  void deliver(Cell& target) override { target.request_stop(nullptr); }
};

struct DownEnvelope final : RuntimeEnvelope<Down> {
  using RuntimeEnvelope::RuntimeEnvelope;
  bool runs_while_held() const noexcept override { return false; }  // the user's on(Down)
  void deliver(Cell& target) override { CellAccess::deliver_down(target, payload); }
};

inline Down make_down(Cell& ended) {
  return Down{Access::ref(&ended), ended.display_name(), ended.reason()};
}

struct WatchEnvelope final : RuntimeEnvelope<Ref<Actor>> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell& target) override {
    CellAccess::cold(target).watchers.push_back(std::move(payload));  // the watcher
  }
  void reject(Cell& target) noexcept override {  // already ended: tell the watcher now
    try {
      Access::cell(payload)->enqueue(new DownEnvelope(make_down(target)), Priority::system);
    } catch (...) {
      report_loss("a Down for a watcher");
    }
  }
};

struct ResumeEnvelope final : RuntimeEnvelope<SuspensionRef> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell& target) override {
    Suspension& suspension = *payload;
    if (suspension.dead) return;  // a restart destroyed the frame meanwhile
    std::coroutine_handle<> handle = suspension.handle;
    unlist(CellAccess::cold(target), suspension);  // our payload still holds it
    handle.resume();
  }
  // A resumption that cannot be delivered does nothing: the frame is still listed in
  // `suspended` and is destroyed by the owner's own turn (terminate), never elsewhere.
  void reject(Cell&) noexcept override {}
};

}  // namespace troupe::detail
