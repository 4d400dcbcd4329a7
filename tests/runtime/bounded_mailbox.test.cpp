// Tests of the bounded mailbox (runtime/src/cell.cpp, enqueue_bounded): the overflow
// policies are for user messages; the runtime's own messages (a draining stop, a
// coroutine's resumption) are never refused, dropped, evicted, counted or made to wait.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Hold {};     // blocks the handler until the test opens the gate
struct Work {};     // counted
struct Handled {};  // how many Work messages were handled

struct Gate {
  std::atomic<bool> open{false};
  std::atomic<bool> holding{false};
  std::atomic<int> handled{0};  // Work messages handled
};

/// Holds its turn on a gate the test opens, so its mailbox can be filled on purpose.
class Gated : public troupe::Actor {
 public:
  explicit Gated(Gate* gate) : gate_(gate) {}
  void on(Hold) {
    gate_->holding = true;
    while (!gate_->open.load()) std::this_thread::sleep_for(100us);
  }
  void on(Work) { gate_->handled.fetch_add(1); }
  int on(Handled) const { return gate_->handled.load(); }

 private:
  Gate* gate_;
};

/// A Gated actor with a bounded mailbox, inside its Hold handler: its mailbox is empty.
troupe::Ref<Gated> spawn_held(troupe::System& system, Gate& gate, troupe::Overflow overflow,
                              std::size_t capacity) {
  auto actor = system.spawn<Gated>(
      troupe::SpawnOptions{.mailbox_capacity = capacity, .overflow = overflow}, &gate);
  actor.tell(Hold{});
  REQUIRE(support::eventually([&] { return gate.holding.load(); }));
  return actor;
}

}  // namespace

TEST_CASE("a draining stop reaches a full mailbox under every overflow policy and ends "
          "the actor after the queued messages") {
  auto policy = GENERATE(troupe::Overflow::reject, troupe::Overflow::drop_newest,
                         troupe::Overflow::drop_oldest, troupe::Overflow::block);
  CAPTURE(static_cast<int>(policy));
  Gate gate;  // outlives the system, whose actors use it until they end
  troupe::System system({.workers = 2});
  auto actor = spawn_held(system, gate, policy, 4);
  for (int i = 0; i < 4; ++i) REQUIRE(actor.tell(Work{}));  // full now
  actor.stop(troupe::StopMode::drain);
  if (policy == troupe::Overflow::drop_oldest) {
    // Later user messages evict the oldest user messages (two of those before the stop),
    // never the stop itself.
    for (int i = 0; i < 2; ++i) REQUIRE(actor.tell(Work{}));
  }
  gate.open = true;
  REQUIRE(system.join(10s));  // the actor ended: the stop was neither refused nor evicted
  // Drain: what was still queued before the stop was handled; nothing behind it was.
  REQUIRE(gate.handled.load() == (policy == troupe::Overflow::drop_oldest ? 2 : 4));
}

TEST_CASE("shutdown with drain returns true as soon as a full bounded actor has drained") {
  auto policy = GENERATE(troupe::Overflow::reject, troupe::Overflow::drop_newest,
                         troupe::Overflow::drop_oldest);
  CAPTURE(static_cast<int>(policy));
  Gate gate;  // outlives the system, whose actors use it until they end
  troupe::System system({.workers = 2});
  auto actor = spawn_held(system, gate, policy, 2);
  actor.tell(Work{});
  actor.tell(Work{});
  std::thread opener([&] {
    std::this_thread::sleep_for(50ms);
    gate.open = true;
  });
  // Before the fix the stop was refused by the full mailbox and shutdown ran into its
  // deadline, returning false.
  bool clean = system.shutdown(10s, troupe::StopMode::drain);
  opener.join();
  REQUIRE(clean);
}

TEST_CASE("shutdown never blocks on a full block-policy mailbox whose handler runs on") {
  // Static: a shutdown that ran into its deadline lets go of the worker still in the
  // handler, which reads the gate once more after the System is gone (ASan caught a
  // stack gate read after this test returned).
  static Gate gate;
  auto system = std::make_unique<troupe::System>(troupe::SystemOptions{.workers = 2});
  auto actor = spawn_held(*system, gate, troupe::Overflow::block, 1);
  actor.tell(Work{});  // full now
  std::atomic<bool> shutdown_returned{false};
  std::thread stopper([&] {
    system->shutdown(200ms, troupe::StopMode::drain);
    shutdown_returned = true;
  });
  // The handler is still held: shutdown must come back anyway (at its deadline), not wait
  // inside the stop's send for room that only the handler's end would make.
  bool returned = support::eventually([&] { return shutdown_returned.load(); });
  gate.open = true;
  stopper.join();
  REQUIRE(returned);
  system.reset();
}

namespace {
struct Ask {};
struct Answer {};
/// Answers an Answer once the test opens the gate.
class Slow : public troupe::Actor {
 public:
  explicit Slow(Gate* gate) : gate_(gate) {}
  int on(Answer) {
    gate_->holding = true;
    while (!gate_->open.load()) std::this_thread::sleep_for(100us);
    return 42;
  }

 private:
  Gate* gate_;
};
/// Asks Slow from a coroutine handler; its own mailbox is tiny and gets filled meanwhile.
class Waiter : public troupe::Actor {
 public:
  Waiter(troupe::Ref<Slow> slow, Gate* gate) : slow_(slow), gate_(gate) {}
  troupe::Task<int> on(Ask) {
    int v = co_await slow_.ask(Answer{});
    co_return v;
  }
  void on(Hold) {
    gate_->holding = true;
    while (!gate_->open.load()) std::this_thread::sleep_for(100us);
  }
  void on(Work) { gate_->handled.fetch_add(1); }

 private:
  troupe::Ref<Slow> slow_;
  Gate* gate_;
};
}  // namespace

TEST_CASE("a coroutine in an actor whose bounded mailbox is full still resumes, and evicts "
          "no user message") {
  auto policy = GENERATE(troupe::Overflow::reject, troupe::Overflow::drop_newest,
                         troupe::Overflow::drop_oldest, troupe::Overflow::block);
  CAPTURE(static_cast<int>(policy));
  Gate slow_gate;  // both outlive the system, whose actors use them until they end
  Gate waiter_gate;
  troupe::System system({.workers = 2});
  auto slow = system.spawn<Slow>("slow", &slow_gate);
  auto waiter = system.spawn<Waiter>(
      troupe::SpawnOptions{.mailbox_capacity = 3, .overflow = policy}, slow, &waiter_gate);
  troupe::Future<int> answer = waiter.ask(Ask{});
  // Slow holds the answer, so the waiter's coroutine is suspended; hold the waiter in a
  // handler and fill its mailbox, then let the answer come: its resumption must get in.
  REQUIRE(support::eventually([&] { return slow_gate.holding.load(); }));
  REQUIRE(waiter.tell(Hold{}));
  REQUIRE(support::eventually([&] { return waiter_gate.holding.load(); }));
  for (int i = 0; i < 3; ++i) REQUIRE(waiter.tell(Work{}));
  slow_gate.open = true;
  std::this_thread::sleep_for(20ms);  // lets the resumption reach the full mailbox first
  waiter_gate.open = true;
  REQUIRE(answer.get(10s) == 42);
  REQUIRE(support::eventually([&] { return waiter_gate.handled.load() == 3; }));
  REQUIRE(system.stats().dead_letters == 0);
}

namespace {
struct Push {};
/// A dedicated-thread actor that tells a full block-policy mailbox.
class Pusher : public troupe::Actor {
 public:
  explicit Pusher(troupe::Ref<Gated> target) : target_(target) {}
  bool on(Push) { return target_.tell(Work{}); }

 private:
  troupe::Ref<Gated> target_;
};
}  // namespace

TEST_CASE("Overflow::block refuses a dedicated-thread actor's tell instead of making it wait") {
  Gate gate;  // outlives the system, whose actors use it until they end
  troupe::System system({.workers = 2});
  auto target = spawn_held(system, gate, troupe::Overflow::block, 1);
  REQUIRE(target.tell(Work{}));  // full now
  auto pusher = system.spawn<Pusher>(troupe::SpawnOptions{.dedicated_thread = true}, target);
  troupe::Future<bool> pushed = pusher.ask(Push{});
  REQUIRE(support::outcome(pushed) == "false");  // refused at once, not blocked
  gate.open = true;
  REQUIRE(support::eventually([&] { return target.ask(Handled{}).get(5s) == 1; }));
}
