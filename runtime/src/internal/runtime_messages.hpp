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
#include <list>
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

/// A coroutine waiting for a future, registered with the actor it must resume on.
struct Suspension {
  std::coroutine_handle<> handle;  // resume this
  std::coroutine_handle<> root;    // destroy this if the actor ends first
  Ref<Actor> owner;
  std::atomic<bool> claimed{false};  // the future's side: posted a resumption, or gave up
  bool dead = false;                 // the owner's side: frame destroyed (owner's turn only)
  std::list<std::shared_ptr<Suspension>>::iterator place;  // in Cold::suspended (owner's)
};

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

struct ResumeEnvelope final : RuntimeEnvelope<std::shared_ptr<Suspension>> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell& target) override {
    Suspension& suspension = *payload;
    if (suspension.dead) return;  // a restart destroyed the frame meanwhile
    CellAccess::cold(target).suspended.erase(suspension.place);
    suspension.handle.resume();
  }
  // A resumption that cannot be delivered does nothing: the frame is still listed in
  // `suspended` and is destroyed by the owner's own turn (terminate), never elsewhere.
  void reject(Cell&) noexcept override {}
};

}  // namespace troupe::detail
