// troupe/remote/remote_ref.hpp - RemoteRef<Protocol>: a handle to an actor in another
// process (or host), typed by the protocol it speaks rather than by its class.
//
//   troupe::RemoteRef<CounterProtocol> counter = node.lookup<CounterProtocol>("counter").get(1s);
//   counter.tell(Add{5});                                   // compiles: Add is in the protocol
//   int n = counter.ask(Get{}).get(1s);                     // Future<int>, as the protocol says
//   counter.ask(Get{}, std::chrono::milliseconds(200));     // a per-call deadline
//
// A distinct type from Ref<T> because the client has no T: it knows only the messages.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "troupe/future.hpp"
#include "troupe/remote/detail/core.hpp"
#include "troupe/remote/errors.hpp"
#include "troupe/remote/protocol.hpp"
#include "troupe/remote/wire.hpp"

namespace troupe {

namespace detail::remote {

/// Checks, in the order a person would look, why M cannot be sent under P, and says so in
/// a static_assert at the send site.
template <class P, class M>
consteval bool check_remote_message() {
  using D = std::remove_cvref_t<M>;
  constexpr bool listed = ProtocolAccepts<P, D>;
  static_assert(listed,
                "troupe: this message is not in the remote actor's protocol: add "
                "troupe::Accepts<Message, Answer> to the Protocol<...> both sides include");
  constexpr bool named = HasWireName<D>;
  static_assert(!listed || named,
                "troupe: this message has no wire codec: give it a stable wire name with "
                "TROUPE_REMOTE_MESSAGE(Type, \"name.v1\") (and a cereal serialize member)");
  constexpr bool encodable = WireEncodable<D>;
  static_assert(!listed || !named || encodable,
                "troupe: cereal cannot serialize this message: add "
                "template <class Archive> void serialize(Archive& ar) { ar(fields...); } "
                "and a default constructor");
  return listed && named && encodable;
}

template <class R>
void complete(Promise<R>& promise, std::string_view body, const std::exception_ptr& error) {
  if (error) {
    promise.set_exception(error);
    return;
  }
  if constexpr (std::is_void_v<R>) {
    promise.set_value();
  } else {
    try {
      promise.set_value(decode<R>(body));
    } catch (const std::exception& e) {
      promise.set_exception(std::make_exception_ptr(
          CodecError(std::string("the remote answer does not decode: ") + e.what())));
    }
  }
}

}  // namespace detail::remote

/// A handle to a remote actor that speaks protocol P. Cheap to copy. Thread-safe.
template <class P>
class RemoteRef {
 public:
  using protocol = P;

  /// An empty handle (operator bool is false; sends throw EmptyHandle).
  RemoteRef() = default;
  RemoteRef(std::shared_ptr<detail::remote::NodeCore> core, detail::remote::Target target)
      : core_(std::move(core)), target_(std::move(target)) {}

  /// Sends `message` once, at most once (never retried). Never blocks. FIFO with this
  /// node's other sends to the same node. Returns false if it became a dead letter at once
  /// (node known down, outbound queue full, the message did not encode); true does not
  /// mean it was delivered.
  /// Compiles only for messages in P that have a wire codec.
  template <class M>
  bool tell(M&& message) const {
    if constexpr (detail::remote::check_remote_message<P, M>()) {
      if (!core_) detail::throw_empty("RemoteRef::tell");
      using D = std::remove_cvref_t<M>;
      std::string body;
      try {
        body = detail::remote::encode(message);
      } catch (const std::exception& e) {
        detail::remote::encode_failed(core_, target_, e.what());  // a dead letter, with why
        return false;
      }
      return detail::remote::tell(core_, target_, WireName<D>::value, std::move(body));
    } else {
      return false;
    }
  }

  /// Sends `message` and returns a future of the answer P declares. The future always
  /// resolves, by `deadline` at the latest (zero: the node's default): with the answer,
  /// RemoteTimeout, NodeDown, NoSuchActor, RemoteException (the handler threw) or
  /// CodecError. Never blocks.
  template <class M>
  auto ask(M&& message, std::chrono::milliseconds deadline = {}) const {
    if constexpr (detail::remote::check_remote_message<P, M>()) {
      using D = std::remove_cvref_t<M>;
      using R = ProtocolResult<P, D>;
      static_assert(WireEncodable<R>,
                    "troupe: cereal cannot serialize this protocol's answer type");
      if (!core_) detail::throw_empty("RemoteRef::ask");
      auto promise = std::make_shared<Promise<R>>();
      Future<R> future = promise->future();
      std::string body;
      try {
        body = detail::remote::encode(message);
      } catch (const std::exception& e) {
        detail::remote::encode_failed(core_, target_, e.what());
        promise->set_exception(std::make_exception_ptr(
            CodecError(std::string("the message does not encode: ") + e.what())));
        return future;
      }
      detail::remote::ask(core_, target_, WireName<D>::value, std::move(body), deadline,
                          [promise](std::string_view body, std::exception_ptr error) {
                            detail::remote::complete(*promise, body, error);
                          });
      return future;
    } else {
      return Future<void>();
    }
  }

  /// The node (name), its incarnation and the published name this handle points at.
  const std::string& node() const noexcept { return target_.node; }
  std::uint64_t incarnation() const noexcept { return target_.incarnation; }
  const std::string& name() const noexcept { return target_.actor; }
  explicit operator bool() const noexcept { return core_ != nullptr; }

  const detail::remote::Target& target() const noexcept { return target_; }

 private:
  std::shared_ptr<detail::remote::NodeCore> core_;
  detail::remote::Target target_;
};

}  // namespace troupe
