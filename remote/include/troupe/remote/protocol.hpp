// troupe/remote/protocol.hpp - Protocol: the messages an actor accepts and what each
// answers, declared once in a header that both the actor's process and its clients include.
//
//   using CounterProtocol = troupe::Protocol<
//       troupe::Accepts<Add>,          // tell (an ask answers void)
//       troupe::Accepts<Get, int>>;    // ask answers an int
//
//   class Counter : public troupe::Actor { ... void on(const Add&); int on(const Get&); };
//   static_assert(troupe::Implements<Counter, CounterProtocol>);  // what publish checks
//
// A client needs only the protocol and the message types, never the actor's class.
#pragma once

#include <type_traits>

#include "troupe/ref.hpp"
#include "troupe/remote/wire.hpp"

namespace troupe {

/// One entry of a Protocol: the actor accepts M and an ask of M answers R (void: nothing).
template <class M, class R = void>
struct Accepts {
  using message = M;
  using result = R;
};

/// A list of Accepts<...> entries: the type of a remote actor as its clients see it.
template <class... Entries>
struct Protocol {
  using entries = std::tuple<Entries...>;
};

namespace detail::remote {

/// Stands for "no entry accepts this message".
struct NotAccepted {};

template <class P, class M>
struct ResultIn;  // the R of the first entry of P that accepts M; `found` false if none

template <class M, class... Entries>
struct ResultIn<Protocol<Entries...>, M> {
 private:
  template <class E, class... Rest>
  static auto pick() {
    if constexpr (std::is_same_v<typename E::message, M>) {
      return std::type_identity<typename E::result>{};
    } else if constexpr (sizeof...(Rest) > 0) {
      return pick<Rest...>();
    } else {
      return std::type_identity<NotAccepted>{};
    }
  }
  template <class... Es>
  static auto pick_any() {
    if constexpr (sizeof...(Es) == 0) {
      return std::type_identity<NotAccepted>{};
    } else {
      return pick<Es...>();
    }
  }

 public:
  using type = typename decltype(pick_any<Entries...>())::type;
  static constexpr bool found = !std::is_same_v<type, NotAccepted>;
};

/// True when actor class T handles every message of the protocol, answering its type.
template <class T, class... Entries>
consteval bool implements(Protocol<Entries...>*) {
  return ((Handles<T, typename Entries::message> &&
           std::is_same_v<AskResult<T, typename Entries::message>, typename Entries::result>)&&...);
}

}  // namespace detail::remote

/// True when protocol P lists message M.
template <class P, class M>
concept ProtocolAccepts = detail::remote::ResultIn<P, std::remove_cvref_t<M>>::found;

/// What an ask of M answers under protocol P.
template <class P, class M>
using ProtocolResult = typename detail::remote::ResultIn<P, std::remove_cvref_t<M>>::type;

/// True when actor class T handles every message of P and answers each with P's type.
template <class T, class P>
concept Implements = detail::remote::implements<T>(static_cast<P*>(nullptr));

}  // namespace troupe
