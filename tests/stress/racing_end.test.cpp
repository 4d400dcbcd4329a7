// Stress: senders racing with an actor's end. A message either reaches a handler or is
// counted as a dead letter; none is lost, whatever the mailbox and wherever the actor runs.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

#include "stress.hpp"

using namespace std::chrono_literals;

namespace {

struct Note {
  int n;
};

/// Handles `limit` messages, then stops itself while senders are still sending.
class ShortLived : public troupe::Actor {
 public:
  ShortLived(std::atomic<long>* handled, int limit) : handled_(handled), limit_(limit) {}
  void on(Note) {
    handled_->fetch_add(1);
    if (++seen_ == limit_) stop();
  }

 private:
  std::atomic<long>* handled_;
  int limit_;
  int seen_ = 0;
};

troupe::SpawnOptions kind_of(int round) {
  troupe::SpawnOptions o;
  switch (round % 4) {
    case 1:
      o.dedicated_thread = true;
      break;
    case 2:
      o.mailbox_capacity = 4;
      o.overflow = troupe::Overflow::drop_oldest;
      break;
    case 3:
      o.mailbox_capacity = 8;
      o.overflow = troupe::Overflow::block;
      break;
    default:
      break;
  }
  return o;
}

}  // namespace

TEST_CASE("every message sent while an actor ends is handled or a dead letter, none lost") {
  const long rounds = stress::scaled(2'000) + 4;  // plain, dedicated, two bounded in turn
  constexpr int kSenders = 3;
  constexpr int kEach = 60;
  stress::Watchdog dog("senders racing with the end", 120s);
  troupe::System system({.workers = 2});
  std::atomic<long> handled{0};
  long sent = 0;
  for (long round = 0; round < rounds; ++round) {
    INFO("round " << round);
    auto actor = system.spawn<ShortLived>(kind_of(static_cast<int>(round)), &handled,
                                          40 + static_cast<int>(round % 61));
    std::vector<std::thread> senders;
    for (int s = 0; s < kSenders; ++s) {
      senders.emplace_back([&actor, s] {
        for (int i = 0; i < kEach; ++i) {
          if ((i + s) % 5 == 0) {
            actor.tell(Note{i}, troupe::urgent);
          } else {
            actor.tell(Note{i});
          }
        }
      });
    }
    for (auto& t : senders) t.join();
    sent += kSenders * kEach;
    actor.stop();  // if it has not stopped itself (drop_oldest may leave it short)
  }
  REQUIRE(system.join(60s));
  // Dead letters are counted when rejected, which for a send racing with the end happens
  // on one more turn after the send returned: wait for the count to settle.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (handled.load() + static_cast<long>(system.stats().dead_letters) < sent &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(handled.load() + static_cast<long>(system.stats().dead_letters) == sent);
}
