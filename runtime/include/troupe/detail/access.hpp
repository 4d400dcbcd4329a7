// troupe/detail/access.hpp - Access: the one door to the runtime-only members of public types.
//
// Some members of public classes exist for troupe's own code: making a Ref from a control
// block, reading a Ref's block, a future's shared state, starting a coroutine handler
// detached, the hooks a ManualClock drives timers through. They are private, and each of
// those classes befriends Access, so user code cannot reach them by accident and troupe's
// code says where it does: `detail::Access::cell(ref)`. Not public API.
#pragma once

#include <utility>

#include "troupe/fwd.hpp"

namespace troupe::detail {

class StateBase;
struct TaskSink;

struct Access {
  // -- Ref ---------------------------------------------------------------------------------
  /// The control block `ref` points at (null for an empty Ref). Adds no reference.
  template <class T>
  static Cell* cell(const Ref<T>& ref) noexcept {
    return ref.cell_;
  }
  /// A Ref to `cell`, adding a reference (an empty Ref for null).
  template <class T = Actor>
  static Ref<T> ref(Cell* cell) noexcept {
    return Ref<T>(cell);
  }
  /// A Ref that takes over a reference to `cell` already counted (a new cell's first).
  template <class T>
  static Ref<T> adopt(Cell* cell) noexcept {
    Ref<T> ref;
    ref.cell_ = cell;
    return ref;
  }

  // -- System ------------------------------------------------------------------------------
  /// The engine behind `system` (runtime/src/internal/core.hpp; troupe/probe.hpp).
  template <class S>
  static Core& core(const S& system) noexcept {
    return *system.core_;
  }

  // -- Future, Task, ManualClock -------------------------------------------------------------
  /// The shared state behind `future` (an ask hands its answering turn to it).
  template <class R>
  static StateBase& state(const Future<R>& future) noexcept {
    return *future.state_;
  }
  /// Starts `task` detached: it owns its frame and reports to `sink` (owned) when done.
  template <class R>
  static void start_detached(Task<R>&& task, TaskSink* sink) {
    std::move(task).start_detached(sink);
  }
  /// Has `clock` call `on_advance` (keyed by `key`) whenever it is advanced.
  template <class Clock, class OnAdvance>
  static void subscribe(Clock& clock, void* key, OnAdvance&& on_advance) {
    clock.subscribe(key, std::forward<OnAdvance>(on_advance));
  }
  template <class Clock>
  static void unsubscribe(Clock& clock, void* key) {
    clock.unsubscribe(key);
  }
};

}  // namespace troupe::detail
