// troupe/task.hpp - Task<R>: a handler that is a C++20 coroutine.
//
// A handler returning Task<R> may `co_await` futures (an ask to another actor, a submit)
// and other Tasks. While it waits the worker runs other actors; it resumes on its own actor,
// so actor state is never touched by two threads at once. Other messages to the same actor
// may be handled while it waits: re-check state after each co_await. A non-reentrant actor
// (SpawnOptions::reentrant = false) takes none until the coroutine ends instead.
//
//   troupe::Task<int> on(const Fetch& f) {
//     int rate = co_await source_.ask(Quote{f.symbol});   // no worker blocked here
//     co_return rate * f.amount;
//   }
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "troupe/detail/state.hpp"
#include "troupe/errors.hpp"
#include "troupe/fwd.hpp"

namespace troupe {

template <class R>
class Task;

/// A coroutine handler the compiler laid out wrong, refused instead of run (which would
/// hang or corrupt memory). g++ 12 does this to a coroutine that has `co_await` in the
/// condition of an `if`, `while`, `for`, `do` or `switch` and declares no local variable
/// (README, "A compiler note"). Fix: `bool ok = co_await f; if (ok) ...`.
class TROUPE_API MiscompiledCoroutine : public Error {
 public:
  using Error::Error;
};

namespace detail {

template <class T>
struct IsTask : std::false_type {};
template <class R>
struct IsTask<Task<R>> : std::true_type {};

/// What a detached top-level Task calls when it finishes (in the actor's turn).
struct TaskSink {
  virtual ~TaskSink() = default;
  virtual void finished(std::exception_ptr error, void* value) noexcept = 0;
  /// The Task could not even start (its frame failed to allocate).
  virtual void abandon(std::exception_ptr error) noexcept { (void)error; }
};

struct TaskPromiseBase {
  std::coroutine_handle<> continuation;  // the Task awaiting this one, if any
  std::coroutine_handle<> root;          // outermost frame: destroyed if the actor stops
  std::exception_ptr error;
  TaskSink* sink = nullptr;  // owned; set only on a detached top-level Task
  void* frame = nullptr;     // the frame's own address, as the coroutine itself sees it

  TaskPromiseBase() = default;
  TaskPromiseBase(const TaskPromiseBase&) = delete;
  ~TaskPromiseBase() { delete sink; }

  void unhandled_exception() noexcept { error = std::current_exception(); }
};

/// The initial suspension of every Task. It checks the frame layout the handle relies on:
/// the handle a Task holds is computed from the promise's address (from_promise), while
/// the one handed to await_suspend is the frame's real address. Every compiler puts the
/// resume and destroy pointers first and the promise right after them, so the two agree;
/// g++ 12 sometimes puts a hidden variable first (see MiscompiledCoroutine), and then a
/// resume through either handle jumps through the wrong slot. Recording the real address
/// lets Task refuse such a frame loudly instead of running it.
template <class Promise>
struct StartAwaiter {
  Promise& promise;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<Promise> self) const noexcept {
    promise.frame = self.address();
  }
  void await_resume() const noexcept {}
};

/// True if `h` (from from_promise) is not the frame's real address: see StartAwaiter.
template <class Promise>
bool miscompiled(std::coroutine_handle<Promise> h) noexcept {
  return h.promise().frame != h.address();
}

[[noreturn]] inline void throw_miscompiled() {
  throw MiscompiledCoroutine(
      "this coroutine was miscompiled (g++ 12: co_await in the condition of an if, while, "
      "for, do or switch, in a coroutine with no local variable), so troupe refused to run "
      "it; put the awaited value in a variable first: `bool ok = co_await f; if (ok) ...` "
      "(README, \"A compiler note\")");
}

/// Destroys a Task's frame, also one g++ laid out wrong. There `h` points at the resume
/// pointer, `h.destroy()` would run the destroy function on a frame shifted by the hidden
/// variable; calling that same destroy function with the real address destroys it as the
/// compiler meant. Only done where that layout is known (g++, a promise aligned like a
/// pointer); anywhere else the frame is leaked rather than corrupting memory.
template <class Promise>
void destroy_frame(std::coroutine_handle<Promise> h) noexcept {
  void* real = h.promise().frame;
  if (real == nullptr || real == h.address()) {
    h.destroy();
    return;
  }
#if defined(__GNUC__) && !defined(__clang__)
  if constexpr (alignof(Promise) == alignof(void*)) {
    using Fn = void (*)(void*);
    Fn destroy = static_cast<Fn*>(h.address())[1];
    destroy(real);
  }
#endif
}

template <class Promise>
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) const noexcept {
    Promise& p = h.promise();
    if (p.continuation) return p.continuation;
    if (p.sink != nullptr) {
      TaskSink* sink = std::exchange(p.sink, nullptr);
      sink->finished(p.error, p.value_ptr());
      delete sink;
      h.destroy();  // a detached Task owns its own frame
    }
    return std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

/// A lazily started coroutine producing R. Move-only. Use as a handler's return type, or
/// `co_await` one Task from another (same actor). Not thread-safe: lives on one actor.
template <class R = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::TaskPromiseBase {
    std::optional<detail::Stored<R>> value;

    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    detail::StartAwaiter<promise_type> initial_suspend() noexcept { return {*this}; }
    detail::FinalAwaiter<promise_type> final_suspend() const noexcept { return {}; }
    template <class V>
      requires(!std::is_void_v<R>)
    void return_value(V&& v) {
      value.emplace(std::forward<V>(v));
    }
    void* value_ptr() noexcept { return value ? &*value : nullptr; }
  };
  // `return_void` is only valid for Task<void>: see the specialization below.

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) detail::destroy_frame(handle_);
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Task() {
    if (handle_) detail::destroy_frame(handle_);
  }

  /// Awaiting a Task starts it; the awaiting coroutine resumes when it finishes.
  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      h.promise().continuation = parent;
      if constexpr (std::is_base_of_v<detail::TaskPromiseBase, P>) {
        h.promise().root = parent.promise().root ? parent.promise().root : parent;
      }
      return h;
    }
    R await_resume() {
      auto& p = h.promise();
      if (p.error) std::rethrow_exception(p.error);
      if constexpr (!std::is_void_v<R>) return std::move(*p.value);
    }
  };
  /// Throws MiscompiledCoroutine for a Task the compiler laid out wrong, in the awaiting
  /// coroutine, instead of running it.
  Awaiter operator co_await() && {
    if (detail::miscompiled(handle_)) detail::throw_miscompiled();
    return Awaiter{handle_};
  }


 private:
  friend struct detail::Access;  // the envelope that ran the handler starts it detached

  /// Starts the Task detached: it owns its frame and reports to `sink` when done. Takes
  /// ownership of `sink`, except when it throws MiscompiledCoroutine (then nothing ran and
  /// the caller keeps `sink`).
  void start_detached(detail::TaskSink* sink) && {
    if (detail::miscompiled(handle_)) detail::throw_miscompiled();
    auto h = std::exchange(handle_, {});
    h.promise().sink = sink;
    h.promise().root = h;
    h.resume();
  }
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  std::coroutine_handle<promise_type> handle_;
};

template <>
struct Task<void>::promise_type : detail::TaskPromiseBase {
  std::optional<detail::Unit> value;
  Task get_return_object() noexcept {
    return Task(std::coroutine_handle<promise_type>::from_promise(*this));
  }
  detail::StartAwaiter<promise_type> initial_suspend() noexcept { return {*this}; }
  detail::FinalAwaiter<promise_type> final_suspend() const noexcept { return {}; }
  void return_void() noexcept { value.emplace(); }
  void* value_ptr() noexcept { return value ? &*value : nullptr; }
};

}  // namespace troupe
