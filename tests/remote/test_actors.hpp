// tests/remote/test_actors.hpp - the actors the remote tests' other processes publish.
#pragma once

#include "test_protocol.hpp"
#include <troupe/troupe.hpp>

namespace remote_test {

class Counter : public troupe::Actor {
 public:
  void on(const Add& a) { total_ += a.amount; }
  int on(const Get&) { return total_; }
  int on(const Fail& f) { throw std::invalid_argument(f.message); }
  troupe::Task<int> on(const Hang&) { co_return co_await never_.future(); }
  void on(const Numbered& n) {
    if (n.sender < 0 || n.sender > 64) return;
    if (next_.size() <= static_cast<std::size_t>(n.sender))
      next_.resize(static_cast<std::size_t>(n.sender) + 1);
    auto& next = next_[static_cast<std::size_t>(n.sender)];
    if (n.seq != next) ++out_of_order_;
    next = n.seq + 1;
    ++received_;
  }
  CheckResult on(const Check&) { return {received_, out_of_order_, next_}; }
  void on(const Quit&) { stop(); }

 private:
  int total_ = 0;
  std::int64_t received_ = 0;
  std::int64_t out_of_order_ = 0;
  std::vector<std::int64_t> next_;
  troupe::Promise<int> never_;
};

static_assert(troupe::Implements<Counter, CounterProtocol>);

}  // namespace remote_test
