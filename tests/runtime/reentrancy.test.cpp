// Tests of non-reentrant actors (SpawnOptions::reentrant = false, or a class's
// `static constexpr bool reentrant = false`): a coroutine handler that waits holds its
// actor, which takes no other user message until the coroutine ends. Back-pressure through
// such handlers, end to end: tests/actors/backpressure.test.cpp.
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::outcome;

namespace {

/// What the actors did, in order. Declared before the System in each test: actors write to
/// it until the System is gone.
class Journal {
 public:
  void add(std::string line) {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return lines_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

struct Wait {};        // a coroutine handler that waits on the gate
struct Note {
  int n;
};
struct Compute {
  int n;
};

/// Waits on a gate the test opens; notes everything else it is told.
class Waiter : public troupe::Actor {
 public:
  Waiter(Journal& journal, troupe::Future<int> gate) : journal_(journal), gate_(std::move(gate)) {}

  troupe::Task<void> on(Wait) {
    journal_.add("wait begins");
    int opened = co_await gate_;
    journal_.add("wait ends " + std::to_string(opened));
  }
  /// An ask that awaits the gate too, then answers from it (or fails, for n < 0).
  troupe::Task<int> on(Compute c) {
    int opened = co_await gate_;
    if (c.n < 0) throw std::runtime_error("negative");
    co_return opened + c.n;
  }
  void on(const Note& n) { journal_.add("note " + std::to_string(n.n)); }
  void on(const troupe::Down&) { journal_.add("down"); }

 private:
  Journal& journal_;
  troupe::Future<int> gate_;
};

/// The same actor, non-reentrant by its own declaration.
class Holder : public Waiter {
 public:
  static constexpr bool reentrant = false;
  using Waiter::Waiter;
};

}  // namespace

TEST_CASE("A non-reentrant actor takes no other message while its coroutine handler waits") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2});
  auto waiter = system.spawn<Waiter>({.reentrant = false}, std::ref(journal), gate.future());
  waiter.tell(Wait{});
  waiter.tell(Note{1});
  waiter.tell(Note{2});
  REQUIRE(eventually([&] { return journal.size() >= 1; }));
  // The notes stay queued however long the coroutine waits.
  std::this_thread::sleep_for(50ms);
  CHECK(journal.lines() == std::vector<std::string>{"wait begins"});
  gate.set_value(7);
  REQUIRE(eventually([&] { return journal.size() == 4; }));
  CHECK(journal.lines() ==
        std::vector<std::string>{"wait begins", "wait ends 7", "note 1", "note 2"});
}

TEST_CASE("A reentrant actor, the default, handles other messages while a coroutine waits") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2});
  auto waiter = system.spawn<Waiter>(std::ref(journal), gate.future());
  waiter.tell(Wait{});
  waiter.tell(Note{1});
  REQUIRE(eventually([&] { return journal.size() == 2; }));
  gate.set_value(7);
  REQUIRE(eventually([&] { return journal.size() == 3; }));
  CHECK(journal.lines() == std::vector<std::string>{"wait begins", "note 1", "wait ends 7"});
}

TEST_CASE("A class declares itself non-reentrant, and a spawn option overrides the class") {
  Journal held_journal;
  Journal free_journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2});
  auto held = system.spawn<Holder>(std::ref(held_journal), gate.future());
  auto freed = system.spawn<Holder>({.reentrant = true}, std::ref(free_journal), gate.future());
  for (auto* ref : {&held, &freed}) {
    ref->tell(Wait{});
    ref->tell(Note{1});
  }
  REQUIRE(eventually([&] { return free_journal.size() == 2; }));
  CHECK(held_journal.lines() == std::vector<std::string>{"wait begins"});
  gate.set_value(1);
  REQUIRE(eventually([&] { return held_journal.size() == 3 && free_journal.size() == 3; }));
  CHECK(held_journal.lines() == std::vector<std::string>{"wait begins", "wait ends 1", "note 1"});
}

TEST_CASE("Urgent messages wait for the hold too, and keep their order") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2});
  auto holder = system.spawn<Holder>(std::ref(journal), gate.future());
  holder.tell(Wait{});
  REQUIRE(eventually([&] { return journal.size() == 1; }));
  holder.tell(Note{1});
  holder.tell(Note{2}, troupe::urgent);
  holder.tell(Note{3}, troupe::urgent);
  std::this_thread::sleep_for(20ms);
  CHECK(journal.size() == 1);
  gate.set_value(5);
  REQUIRE(eventually([&] { return journal.size() == 5; }));
  CHECK(journal.lines() == std::vector<std::string>{"wait begins", "wait ends 5", "note 2",
                                                    "note 3", "note 1"});
}

TEST_CASE("A held actor's ask handler answers once the gate opens, and asks queue behind it") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2});
  auto holder = system.spawn<Holder>(std::ref(journal), gate.future());
  auto first = holder.ask(Compute{1});
  auto second = holder.ask(Compute{2});
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(first.ready());
  gate.set_value(10);
  CHECK(first.get(10s) == 11);
  CHECK(second.get(10s) == 12);
}

TEST_CASE("A coroutine handler that fails releases the hold (resume policy)") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2, .log_failures = false});
  auto holder = system.spawn<Holder>({.on_failure = troupe::OnFailure::resume},
                                     std::ref(journal), gate.future());
  auto failing = holder.ask(Compute{-1});
  holder.tell(Note{1});
  gate.set_value(0);
  CHECK(outcome(failing) == "other: negative");
  REQUIRE(eventually([&] { return journal.size() == 1; }));
  CHECK(journal.lines() == std::vector<std::string>{"note 1"});
  CHECK(holder.ask(Compute{4}).get(10s) == 4);
}

TEST_CASE("Stop reaches a held actor: its coroutine ends, its queued asks fail") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2});
  auto holder = system.spawn<Holder>(std::ref(journal), gate.future());
  auto waiting = holder.ask(Compute{1});
  auto queued = holder.ask(Compute{2});
  std::this_thread::sleep_for(20ms);
  holder.stop();
  CHECK(outcome(waiting) == "ActorStopped");
  CHECK(outcome(queued) == "ActorStopped");
  gate.set_value(1);  // resumes nothing: the coroutine is gone
  system.join();
  CHECK(journal.size() == 0);
}

TEST_CASE("A restart releases the hold and the rebuilt actor takes the queued messages") {
  Journal journal;
  troupe::Promise<int> gate;
  troupe::System system({.workers = 2, .log_failures = false});
  auto holder = system.spawn<Holder>({.on_failure = troupe::OnFailure::restart},
                                     std::ref(journal), gate.future());
  auto failing = holder.ask(Compute{-1});
  holder.tell(Note{1});
  std::this_thread::sleep_for(20ms);
  CHECK(journal.size() == 0);
  gate.set_value(2);  // the held coroutine fails: the actor restarts
  CHECK(outcome(failing) == "other: negative");
  REQUIRE(eventually([&] { return journal.size() == 1; }));
  CHECK(journal.lines() == std::vector<std::string>{"note 1"});
  CHECK(holder.ask(Compute{1}).get(10s) == 3);
}
