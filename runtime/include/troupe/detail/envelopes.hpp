// troupe/detail/envelopes.hpp - typed envelopes: where a message meets its handler.
//
// The envelope type is fixed at the send site (`Ref<T>::tell<M>`), so delivery is one
// virtual call straight into `T::on(M)`: no type map, no lookup at run time.
#pragma once

#include <exception>
#include <memory>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "troupe/detail/access.hpp"
#include "troupe/detail/cell.hpp"
#include "troupe/future.hpp"
#include "troupe/task.hpp"

namespace troupe::detail {

/// What `T::on(M&&)` returns.
template <class T, class M>
using HandlerResult = decltype(std::declval<T&>().on(std::declval<M&&>()));

/// The value an ask of M gets: R for R and for Task<R>.
template <class Res>
struct AskValue {
  using type = Res;
};
template <class R>
struct AskValue<Task<R>> {
  using type = R;
};

/// Reports a failure of the running actor's coroutine handler (supervision applies).
TROUPE_API void fail_current(std::exception_ptr error) noexcept;

/// What every top-level coroutine handler reports to. For a non-reentrant actor it holds
/// the actor from the handler's start until the coroutine ends: finished, failed, or
/// destroyed because the actor stopped or restarted (each of which deletes the sink, in
/// the actor's own turn).
struct HoldingSink : TaskSink {
  ~HoldingSink() override {
    if (holder != nullptr) holder->release_hold();
  }
  Cell* holder = nullptr;
};

/// Finishing a tell handler that is a coroutine: only failures matter. The sink owns the
/// message, so a handler taking it by reference can use it across every co_await.
template <class M>
struct TellSink final : HoldingSink {
  explicit TellSink(M m) : message(std::move(m)) {}
  void finished(std::exception_ptr error, void*) noexcept override {
    if (error) fail_current(std::move(error));
  }
  M message;
};

/// Finishing an ask handler that is a coroutine: answer the future; a failure also fails
/// the actor, as any exception escaping a handler does. Owns the message, as TellSink.
template <class R, class M>
struct AskSink final : HoldingSink {
  AskSink(Promise<R> p, M m) : promise(std::move(p)), message(std::move(m)) {}
  void abandon(std::exception_ptr error) noexcept override { promise.set_exception(error); }
  void finished(std::exception_ptr error, void* value) noexcept override {
    if (error) {
      describe_ahead(error);  // before the asker can have it (errors.hpp)
      promise.set_exception(error);
      fail_current(std::move(error));
    } else if constexpr (std::is_void_v<R>) {
      promise.set_value();
    } else {
      try {
        promise.set_value(std::move(*static_cast<R*>(value)));
      } catch (...) {
        promise.set_exception(std::current_exception());
      }
    }
  }
  Promise<R> promise;
  M message;
};

/// Runs a coroutine handler of T for `message`, detached; `sink` owns the message. On a
/// non-reentrant actor the coroutine holds it until it ends.
template <class T, class Sink>
void start_task(Cell& cell, T& actor, std::unique_ptr<Sink> sink) {
  if (!cell.reentrant()) {
    cell.hold();
    sink->holder = &cell;
  }
  try {
    auto task = actor.on(std::move(sink->message));  // allocating the frame can throw,
    Access::start_detached(std::move(task), sink.get());  // and so can a miscompiled frame
    sink.release();  // the Task owns it now (and may have finished and deleted it)
  } catch (...) {
    sink->abandon(std::current_exception());
    throw;  // the turn applies the supervision policy
  }
}

/// Calls `T::on(message)` on the target for a tell: plainly, or as a detached coroutine.
template <class T, class M>
void deliver_tell(Cell& target, M& message) {
  T& actor = static_cast<T&>(*target.actor());
  if constexpr (IsTask<HandlerResult<T, M>>::value) {
    start_task(target, actor, std::make_unique<TellSink<M>>(std::move(message)));
  } else {
    actor.on(std::move(message));
  }
}

template <class T, class M>
struct TellEnvelope final : Carrying<M> {  // the payload is the message
  using Carrying<M>::Carrying;
  void deliver(Cell& target) override { deliver_tell<T>(target, this->payload); }
  const std::type_info* message_type() const noexcept override { return &typeid(M); }
};

/// What an ask of the (decayed) message type M to T answers with; the public spelling is
/// troupe::AskResult, which decays M first.
template <class T, class M>
using AskResultOf = typename AskValue<HandlerResult<T, M>>::type;

/// What an ask carries: the message, and the promise its answer completes.
template <class T, class M>
struct AskPayload {
  // A constructor, not an aggregate: clang 14 has no parenthesized aggregate init.
  AskPayload(M m, Promise<AskResultOf<T, M>> p) : message(std::move(m)), promise(std::move(p)) {}
  M message;
  Promise<AskResultOf<T, M>> promise;
};

template <class T, class M>
struct AskEnvelope final : Carrying<AskPayload<T, M>> {
  using Result = AskResultOf<T, M>;

  template <class V>
  AskEnvelope(V&& v, Promise<Result> p)
      : Carrying<AskPayload<T, M>>(M(std::forward<V>(v)), std::move(p)) {}

  void deliver(Cell& target) override {
    T& actor = static_cast<T&>(*target.actor());
    M& message = this->payload.message;
    Promise<Result>& promise = this->payload.promise;
    try {
      if constexpr (IsTask<HandlerResult<T, M>>::value) {
        auto sink = std::make_unique<AskSink<Result, M>>(std::move(promise), std::move(message));
        start_task(target, actor, std::move(sink));
      } else if constexpr (std::is_void_v<Result>) {
        actor.on(std::move(message));
        promise.set_value();
      } else {
        promise.set_value(actor.on(std::move(message)));
      }
    } catch (...) {
      std::exception_ptr error = std::current_exception();
      describe_ahead(error);  // before the asker can have it (errors.hpp)
      promise.set_exception(error);
      throw;  // the worker fails the actor with it
    }
  }
  void reject(Cell& target) noexcept override {
    try {
      this->payload.promise.set_exception(target.stopped_error());
    } catch (...) {
      this->payload.promise.set_exception(std::current_exception());
    }
  }
  void refuse(std::exception_ptr why) noexcept override {
    this->payload.promise.set_exception(std::move(why));
  }
  const std::type_info* message_type() const noexcept override { return &typeid(M); }
};

}  // namespace troupe::detail
