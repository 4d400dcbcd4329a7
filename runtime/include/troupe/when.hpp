// troupe/when.hpp - combining futures: when_all, when_any.
//
//   std::vector<troupe::Future<double>> quotes = ...;
//   std::vector<double> all = troupe::when_all(std::move(quotes)).get();
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "troupe/future.hpp"

namespace troupe {

/// A future of every value, in input order. Fails with the first error to arrive (the
/// others are still awaited by nobody). Never blocks. An empty input is ready at once.
template <class R>
auto when_all(std::vector<Future<R>> futures) {
  using Out = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;
  struct Shared {
    std::mutex mutex;
    std::vector<std::optional<detail::Stored<R>>> values;
    std::size_t left;
    Promise<Out> promise;
  };
  auto shared = std::make_shared<Shared>();
  shared->values.resize(futures.size());
  shared->left = futures.size();
  Future<Out> out = shared->promise.future();
  if (futures.empty()) {
    if constexpr (std::is_void_v<R>) {
      shared->promise.set_value();
    } else {
      shared->promise.set_value(Out{});
    }
    return out;
  }
  for (std::size_t i = 0; i < futures.size(); ++i) {
    futures[i].on_ready([shared, i](const Future<R>& f) {
      if (auto e = f.error()) {
        shared->promise.set_exception(e);
        return;
      }
      std::unique_lock lock(shared->mutex);
      if constexpr (std::is_void_v<R>) {
        shared->values[i].emplace();
      } else {
        shared->values[i].emplace(f.get());
      }
      if (--shared->left != 0) return;
      lock.unlock();
      if constexpr (std::is_void_v<R>) {
        shared->promise.set_value();
      } else {
        Out all;
        all.reserve(shared->values.size());
        for (auto& v : shared->values) all.push_back(std::move(*v));
        shared->promise.set_value(std::move(all));
      }
    });
  }
  return out;
}

/// A future of the index of the first input future to complete (value or error).
/// Throws std::invalid_argument for an empty input. Never blocks.
template <class R>
Future<std::size_t> when_any(const std::vector<Future<R>>& futures) {
  if (futures.empty()) throw std::invalid_argument("when_any needs at least one future");
  auto promise = std::make_shared<Promise<std::size_t>>();
  Future<std::size_t> out = promise->future();
  for (std::size_t i = 0; i < futures.size(); ++i) {
    futures[i].on_ready([promise, i](const Future<R>&) { promise->set_value(i); });
  }
  return out;
}

}  // namespace troupe
