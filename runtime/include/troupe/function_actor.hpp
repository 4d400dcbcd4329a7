// troupe/function_actor.hpp - actors whose handler is a lambda (or an overload set).
//
//   auto printer = system.spawn([](const std::string& line) { fmt::print("{}\n", line); });
//   printer.tell(std::string("hello"));
//   auto both = system.spawn(troupe::Overload{
//       [](int n) { return n * 2; },
//       [](const std::string& s) { return s.size(); }});
#pragma once

#include <concepts>
#include <functional>
#include <utility>

#include "troupe/actor.hpp"

namespace troupe {

/// Combines several lambdas into one overload set.
template <class... Fs>
struct Overload : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overload(Fs...) -> Overload<Fs...>;

/// An actor whose `on` forwards every message the callable accepts to the callable.
template <class F>
class FunctionActor final : public Actor {
 public:
  explicit FunctionActor(F fn) : fn_(std::move(fn)) {}

  template <class M>
    requires std::invocable<F&, M&&>
  decltype(auto) on(M&& message) {
    return std::invoke(fn_, std::forward<M>(message));
  }

 private:
  F fn_;
};

}  // namespace troupe
