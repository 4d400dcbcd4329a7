// tests/remote/test_protocol.hpp - the messages and protocols the remote tests speak, and
// the actors behind them. The test process includes only the protocols; node_main (the
// other processes) includes the actors too.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <troupe/remote.hpp>

namespace remote_test {

struct Add {
  int amount = 0;
  template <class A>
  void serialize(A& ar) {
    ar(amount);
  }
};
struct Get {
  template <class A>
  void serialize(A&) {}
};
/// Answered by throwing std::invalid_argument(message) (the actor resumes).
struct Fail {
  std::string message;
  template <class A>
  void serialize(A& ar) {
    ar(message);
  }
};
/// Never answered (the answer waits on a promise nobody keeps).
struct Hang {
  template <class A>
  void serialize(A&) {}
};
/// One of a numbered stream per sender.
struct Numbered {
  int sender = 0;
  std::int64_t seq = 0;
  template <class A>
  void serialize(A& ar) {
    ar(sender, seq);
  }
};
struct Check {
  template <class A>
  void serialize(A&) {}
};
struct CheckResult {
  std::int64_t total = 0;
  std::int64_t out_of_order = 0;
  std::vector<std::int64_t> next;  // per sender: the next seq expected
  template <class A>
  void serialize(A& ar) {
    ar(total, out_of_order, next);
  }
};
/// The actor stops itself (for watch tests).
struct Quit {
  template <class A>
  void serialize(A&) {}
};
/// A tick from a node to the test's sink: which incarnation sent it, and its number.
struct Tick {
  std::uint64_t incarnation = 0;
  std::int64_t seq = 0;
  template <class A>
  void serialize(A& ar) {
    ar(incarnation, seq);
  }
};
/// A message for a slow receiver, with some weight.
struct Bulk {
  std::string payload;
  template <class A>
  void serialize(A& ar) {
    ar(payload);
  }
};

}  // namespace remote_test

TROUPE_REMOTE_MESSAGE(remote_test::Add, "test.add.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Get, "test.get.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Fail, "test.fail.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Hang, "test.hang.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Numbered, "test.numbered.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Check, "test.check.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Quit, "test.quit.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Tick, "test.tick.v1");
TROUPE_REMOTE_MESSAGE(remote_test::Bulk, "test.bulk.v1");

namespace remote_test {

using CounterProtocol =
    troupe::Protocol<troupe::Accepts<Add>, troupe::Accepts<Get, int>, troupe::Accepts<Fail, int>,
                     troupe::Accepts<Hang, int>, troupe::Accepts<Numbered>,
                     troupe::Accepts<Check, CheckResult>, troupe::Accepts<Quit>>;

using SinkProtocol = troupe::Protocol<troupe::Accepts<Tick>, troupe::Accepts<Bulk>>;

}  // namespace remote_test
