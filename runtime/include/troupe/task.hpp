// troupe/task.hpp - Task<R>: a handler that is a C++20 coroutine.
//
// A handler returning Task<R> may `co_await` futures (an ask to another actor, a submit)
// and other Tasks. While it waits the worker runs other actors; it resumes on its own actor,
// so actor state is never touched by two threads at once. Other messages to the same actor
// may be handled while it waits: re-check state after each co_await.
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
#include "troupe/fwd.hpp"

namespace troupe {

template <class R>
class Task;

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

  TaskPromiseBase() = default;
  TaskPromiseBase(const TaskPromiseBase&) = delete;
  ~TaskPromiseBase() { delete sink; }

  std::suspend_always initial_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

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
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
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
  Awaiter operator co_await() && noexcept { return Awaiter{handle_}; }


 private:
  friend struct detail::Access;  // the envelope that ran the handler starts it detached

  /// Starts the Task detached: it owns its frame and reports to `sink` (owned) when done.
  void start_detached(detail::TaskSink* sink) && {
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
  detail::FinalAwaiter<promise_type> final_suspend() const noexcept { return {}; }
  void return_void() noexcept { value.emplace(); }
  void* value_ptr() noexcept { return value ? &*value : nullptr; }
};

}  // namespace troupe
