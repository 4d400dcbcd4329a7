// troupe/ref.hpp - Ref<T>: a cheap, copyable handle to an actor of type T.
//
//   troupe::Ref<Account> acct = system.spawn<Account>("account");
//   acct.tell(Deposit{10});                      // compiles only if Account::on(Deposit) exists
//   troupe::Future<int> f = acct.ask(Balance{}); // R is what Account::on(Balance) returns
//
// The path of a message, file by file:
//   1. tell() here builds a typed envelope (detail/envelopes.hpp) and calls Cell::enqueue
//      (detail/cell.hpp), which pushes it onto the mailbox (detail/mailbox.hpp);
//   2. a send that finds the actor idle wakes it (Cell::wake, runtime/src/send.cpp, where
//      the slow cases and bounded mailboxes also start), scheduling it on the pool
//      (runtime/src/scheduler.cpp);
//   3. a worker runs its turn (runtime/src/turn.cpp), which pops the envelope and calls
//      envelope->deliver, which calls T::on.
#pragma once

#include <compare>
#include <concepts>
#include <cstddef>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "troupe/detail/access.hpp"
#include "troupe/detail/envelopes.hpp"
#include "troupe/future.hpp"

namespace troupe {

/// True when actor type T has an `on` overload accepting a message M.
template <class T, class M>
concept Handles = requires(T& actor, std::decay_t<M>&& message) { actor.on(std::move(message)); };

namespace detail {

/// Any member named `on` in T, whatever its access: the name is ambiguous in a class
/// deriving from T and from a class with a public `on` only if T declares one too (lookup
/// happens before access checks).
struct OtherOn {
  void on();
};
template <class T>
struct BothOn : T, OtherOn {};
template <class T>
concept DeclaresOn = !std::is_final_v<T> && !requires { &BothOn<T>::on; };

/// Checks, in the order a person would look, why T cannot handle M, and says so with a
/// static_assert that is the first error (tell and ask compile nothing else when it fails).
/// True when T handles M. Complete-type and handler checks are done here, not in a
/// constraint, so an error names its cause instead of "required expression is invalid".
template <class T, class M>
consteval bool check_handler() {
  constexpr bool complete = requires { sizeof(T); };
  static_assert(complete,
                "troupe: the actor class is only declared here, not defined; include the "
                "header that defines it before telling or asking it");
  if constexpr (!complete) {
    return false;
  } else {
    constexpr bool handles = Handles<T, M>;
    constexpr bool by_lvalue = requires(T& actor, std::decay_t<M>& message) { actor.on(message); };
    static_assert(handles || !by_lvalue,
                  "troupe: the actor's handler takes the message by non-const reference "
                  "(on(M&)); troupe moves the message into the handler: take it as "
                  "on(const M&), on(M) or on(M&&)");
    static_assert(handles || by_lvalue || !DeclaresOn<T>,
                  "troupe: the actor has no public handler for this message type: is its "
                  "on(...) private or protected (handlers must be public), or written for "
                  "another type?");
    static_assert(handles || by_lvalue || DeclaresOn<T>,
                  "troupe: the actor class has no handler: declare a public member "
                  "on(const M&) for this message type");
    return handles;
  }
}

}  // namespace detail

/// The value type an ask of M to T answers with (R for `R on(M)` and `Task<R> on(M)`).
template <class T, class M>
using AskResult = detail::AskResultOf<T, std::decay_t<M>>;

/// Tag for `tell(msg, troupe::urgent)`: the message overtakes queued normal messages.
struct Urgent {};
inline constexpr Urgent urgent{};

/// What happens to messages already queued when an actor stops (`Ref::stop`) or the whole
/// system shuts down (`System::shutdown`).
enum class StopMode {
  drop,   ///< stop after the current message; queued messages become dead letters (asks fail)
  drain,  ///< first handle what was queued before the stop (shutdown: until its deadline)
};

namespace detail {
TROUPE_API void send_stop(Cell* cell, StopMode mode) noexcept;
/// Queues the message that runs a new actor's on_start (Cell::call_on_start).
TROUPE_API void send_start(Cell* cell);
}

/// A handle to an actor of type T (or derived). Copy freely: copying is one atomic
/// increment. Thread-safe. A Ref keeps the actor's control block alive, not the actor:
/// once it stops, messages sent through any Ref become dead letters.
template <class T>
class Ref {
 public:
  using element_type = T;

  /// An empty Ref: points at no actor (see operator bool).
  Ref() noexcept = default;
  Ref(const Ref& other) noexcept : Ref(other.cell_) {}
  Ref(Ref&& other) noexcept : cell_(std::exchange(other.cell_, nullptr)) {}
  /// A Ref to a derived actor converts to a Ref to its base.
  template <class U>
    requires std::derived_from<U, T>
  Ref(const Ref<U>& other) noexcept : Ref(other.cell_) {}
  Ref& operator=(Ref other) noexcept {
    std::swap(cell_, other.cell_);
    return *this;
  }
  ~Ref() {
    if (cell_) cell_->release();
  }

  /// Sends `message` (copied or moved into the envelope). Never blocks. Per-sender FIFO.
  /// Returns false if the actor has terminated: the message became a dead letter. (A send
  /// racing with the actor's end may return true and still become a dead letter.)
  /// Compiles only if T handles M (see Handles); otherwise the first error says why.
  /// Throws EmptyHandle on an empty Ref.
  template <class M>
  bool tell(M&& message) const {
    if constexpr (detail::check_handler<T, M>()) {
      if (cell_ == nullptr) [[unlikely]] detail::throw_empty("Ref::tell");
      return cell_->enqueue(
          new detail::TellEnvelope<T, std::decay_t<M>>(std::forward<M>(message)));
    } else {
      return false;
    }
  }
  /// As tell(), but the message overtakes the normal messages already queued.
  template <class M>
  bool tell(M&& message, Urgent) const {
    if constexpr (detail::check_handler<T, M>()) {
      if (cell_ == nullptr) [[unlikely]] detail::throw_empty("Ref::tell");
      return cell_->enqueue(
          new detail::TellEnvelope<T, std::decay_t<M>>(std::forward<M>(message)),
          detail::Priority::urgent);
    } else {
      return false;
    }
  }

  /// Sends `message` and returns a future of the handler's answer. Never blocks.
  /// The future fails with the handler's exception, or with ActorStopped if the actor is
  /// gone (or goes) before answering. Asked from a plain thread, an untimed get() may run
  /// the handler on that thread (Future::get). Throws EmptyHandle on an empty Ref.
  template <class M>
  auto ask(M&& message) const {  // -> Future<AskResult<T, M>>
    if constexpr (detail::check_handler<T, M>()) {
      if (cell_ == nullptr) [[unlikely]] detail::throw_empty("Ref::ask");
      auto made = Promise<AskResult<T, M>>::with_future();  // {promise, future}
      cell_->enqueue_ask(new detail::AskEnvelope<T, std::decay_t<M>>(std::forward<M>(message),
                                                                     std::move(made.first)),
                         detail::Access::state(made.second));
      return std::move(made.second);
    } else {
      return Future<void>();
    }
  }

  /// Asks the actor to stop (see StopMode). Stopping a stopped actor, or through an empty
  /// Ref, does nothing.
  void stop(StopMode mode = StopMode::drop) const noexcept { detail::send_stop(cell_, mode); }

  /// The spawn name ("" if unnamed). Throws EmptyHandle on an empty Ref.
  std::string_view name() const {
    if (cell_ == nullptr) [[unlikely]] detail::throw_empty("Ref::name");
    return cell_->name();
  }
  /// False once the actor has stopped or failed.
  bool alive() const noexcept { return cell_ && !cell_->terminated(); }
  /// True for a Ref that points at an actor; false for an empty one (default-constructed or
  /// moved from), on which tell, ask and name throw EmptyHandle.
  explicit operator bool() const noexcept { return cell_ != nullptr; }

  template <class U>
  bool operator==(const Ref<U>& other) const noexcept {
    return cell_ == other.cell_;
  }
  template <class U>
  std::strong_ordering operator<=>(const Ref<U>& other) const noexcept {
    return std::compare_three_way{}(static_cast<const void*>(cell_),
                                    static_cast<const void*>(other.cell_));
  }

 private:
  template <class U>
  friend class Ref;
  friend struct detail::Access;  // runtime use: making a Ref from a cell, reading its cell

  /// Points at `cell`, adding a reference.
  explicit Ref(detail::Cell* cell) noexcept : cell_(cell) {
    if (cell_) cell_->add_ref();
  }

  detail::Cell* cell_ = nullptr;
};

}  // namespace troupe

template <class T>
struct std::hash<troupe::Ref<T>> {
  std::size_t operator()(const troupe::Ref<T>& r) const noexcept {
    return std::hash<const void*>{}(troupe::detail::Access::cell(r));
  }
};
