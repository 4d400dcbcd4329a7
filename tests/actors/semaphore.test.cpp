// Tests of troupe::Semaphore and troupe::Permit (actors/src/semaphore.cpp): FIFO service,
// timeouts on a manual clock, RAII release, bounded release, permits reclaimed from actors
// that end, shutdown, and 64 contending actors under real threads.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"

#include <troupe/semaphore.hpp>
#include <troupe/troupe.hpp>
#include <troupe/usage_error.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::outcome;
using support::kPatience;

namespace {

struct Fixture : support::ClockedSystem {

  static unsigned available(const troupe::Semaphore& s) { return s.available().get(kPatience); }
  static std::size_t waiting(const troupe::Semaphore& s) { return s.waiting().get(kPatience); }
  static troupe::Permit take(const troupe::Semaphore& s) { return s.acquire(1s).get(kPatience); }
};

// -- actors that hold permits --------------------------------------------------------------------

struct Grab {};          // acquire one permit and keep it in a member
struct GrabDetached {};  // acquire one permit and detach it (Python style)
struct GrabAndPark {};   // acquire one permit and wait, suspended, for `never_`
struct GrabAndThrow {};  // acquire one permit, then fail
struct Handover {};      // acquire one permit and hand it to the asker
struct Queue {};         // wait for a permit (without a timeout)
struct Fail {};          // throw: the actor fails
struct Ping {};

class Holder : public troupe::Actor {
 public:
  Holder(troupe::Semaphore sem, troupe::Future<void> never)
      : sem_(std::move(sem)), never_(std::move(never)) {}

  troupe::Task<void> on(Grab) { kept_.push_back(co_await sem_.acquire(kPatience)); }
  troupe::Task<void> on(GrabDetached) { (co_await sem_.acquire(kPatience)).detach(); }
  troupe::Task<void> on(GrabAndPark) {
    troupe::Permit p = co_await sem_.acquire(kPatience);
    co_await never_;
  }
  troupe::Task<void> on(GrabAndThrow) {
    troupe::Permit p = co_await sem_.acquire(kPatience);
    throw std::runtime_error("holder failed while holding a permit");
  }
  troupe::Task<troupe::Permit> on(Handover) { co_return co_await sem_.acquire(kPatience); }
  troupe::Task<void> on(Queue) { kept_.push_back(co_await sem_.acquire()); }
  void on(Fail) { throw std::runtime_error("holder failed"); }
  int on(Ping) { return 1; }

 private:
  troupe::Semaphore sem_;
  troupe::Future<void> never_;
  std::vector<troupe::Permit> kept_;
};

}  // namespace

// -- counting ------------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "permits are handed out up to the count, then acquires wait") {
  troupe::Semaphore sem(system, 2);
  REQUIRE(available(sem) == 2);
  troupe::Permit a = take(sem);
  troupe::Permit b = take(sem);
  REQUIRE((a.held() && b.held()));
  REQUIRE(available(sem) == 0);
  auto third = sem.acquire(1s);
  REQUIRE(eventually([&] { return waiting(sem) == 1; }));
  REQUIRE_FALSE(third.ready());
  a = troupe::Permit();  // dropping a permit releases it
  REQUIRE(outcome(third) == "value");
  REQUIRE(available(sem) == 0);
  REQUIRE(waiting(sem) == 0);
}

TEST_CASE_METHOD(Fixture, "waiters are served strictly in arrival order") {
  troupe::Semaphore sem(system, 1, {.name = "fifo"});
  troupe::Permit held = take(sem);
  std::vector<troupe::Future<troupe::Permit>> queue;
  for (int i = 0; i < 6; ++i) queue.push_back(sem.acquire(1h));
  REQUIRE(eventually([&] { return waiting(sem) == 6; }));
  held.release();
  for (std::size_t i = 0; i < queue.size(); ++i) {
    troupe::Permit p = std::move(queue[i]).get(kPatience);
    REQUIRE(waiting(sem) == queue.size() - i - 1);  // nobody behind it was served first
    for (std::size_t j = i + 1; j < queue.size(); ++j) REQUIRE_FALSE(queue[j].ready());
  }  // each permit goes back at the end of its iteration, to the next in line
  REQUIRE(available(sem) == 1);
}

TEST_CASE_METHOD(Fixture, "a new acquire queues behind waiters even when a permit is on its way") {
  troupe::Semaphore sem(system, 1);
  troupe::Permit held = take(sem);
  auto first = sem.acquire(1h);
  REQUIRE(eventually([&] { return waiting(sem) == 1; }));
  held.release();
  auto second = sem.acquire(0s);  // arrives after the release: the first waiter got it
  REQUIRE(outcome(first) == "value");
  REQUIRE(outcome(second) == "TimeoutError");
}

// -- timeouts ------------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "an acquire times out exactly when due, and only that waiter") {
  troupe::Semaphore sem(system, 1, {.name = "slow"});
  troupe::Permit held = take(sem);
  auto short_wait = sem.acquire(100ms);
  auto long_wait = sem.acquire(1s);
  REQUIRE(eventually([&] { return waiting(sem) == 2; }));
  clock->advance(99ms);
  REQUIRE(waiting(sem) == 2);
  REQUIRE_FALSE(short_wait.ready());
  clock->advance(1ms);
  REQUIRE(outcome(short_wait) == "TimeoutError");
  REQUIRE_THROWS_WITH(short_wait.get(kPatience),
                      Catch::Contains("semaphore 'slow'") && Catch::Contains("100 ms"));
  REQUIRE(waiting(sem) == 1);
  held.release();
  REQUIRE(outcome(long_wait) == "value");
}

TEST_CASE_METHOD(Fixture, "a waiter that timed out never takes a permit later") {
  troupe::Semaphore sem(system, 1);
  troupe::Permit held = take(sem);
  auto w = sem.acquire(10ms);
  REQUIRE(eventually([&] { return waiting(sem) == 1; }));
  clock->advance(10ms);
  REQUIRE(outcome(w) == "TimeoutError");
  held.release();
  REQUIRE(eventually([&] { return available(sem) == 1; }));
}

TEST_CASE_METHOD(Fixture, "a zero timeout takes a free permit or fails at once") {
  troupe::Semaphore sem(system, 1);
  troupe::Permit p = sem.acquire(0s).get(kPatience);
  REQUIRE(p.held());
  REQUIRE(outcome(sem.acquire(0s)) == "TimeoutError");
  REQUIRE(waiting(sem) == 0);
}

// -- permits -------------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "a permit released early is released once") {
  troupe::Semaphore sem(system, 1);
  troupe::Permit p = take(sem);
  p.release();
  REQUIRE_FALSE(p.held());
  p.release();
  REQUIRE(available(sem) == 1);
  troupe::Permit q = take(sem);
  REQUIRE(available(sem) == 0);  // the second release of p did not free q's permit
}

TEST_CASE_METHOD(Fixture, "moving a permit moves the ownership; assigning releases the old one") {
  troupe::Semaphore sem(system, 2);
  troupe::Permit a = take(sem);
  troupe::Permit b = std::move(a);
  REQUIRE_FALSE(a.held());  // NOLINT(bugprone-use-after-move): moved-from is empty
  REQUIRE(b.held());
  REQUIRE(available(sem) == 1);
  troupe::Permit c = take(sem);
  b = std::move(c);  // b's old permit goes back
  REQUIRE(eventually([&] { return available(sem) == 1; }));
  static_assert(!std::is_copy_constructible_v<troupe::Permit>);
  static_assert(!std::is_copy_assignable_v<troupe::Permit>);
}

TEST_CASE_METHOD(Fixture, "a permit held by a coroutine handler goes back when it throws") {
  troupe::Semaphore sem(system, 1);
  troupe::Promise<void> never;
  auto h = system.spawn<Holder>({.name = "h", .on_failure = troupe::OnFailure::resume}, sem,
                                never.future());
  auto failed = h.ask(GrabAndThrow{});
  REQUIRE_THROWS_AS(failed.get(kPatience), std::runtime_error);
  REQUIRE(eventually([&] { return available(sem) == 1; }));
  REQUIRE(h.ask(Ping{}).get(kPatience) == 1);  // resumed, not stopped
}

// -- bounded and manual release -------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "a bounded semaphore refuses a release beyond its initial count") {
  troupe::Semaphore sem(system, 1, {.bounded = true, .name = "bounded"});
  auto over = sem.release();
  REQUIRE(outcome(over) == "UsageError");
  REQUIRE_THROWS_WITH(over.get(kPatience),
                      Catch::Contains("bounded") && Catch::Contains("'bounded'"));
  REQUIRE(available(sem) == 1);

  take(sem).detach();  // Python style: acquire ... release()
  REQUIRE(available(sem) == 0);
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(available(sem) == 1);
  REQUIRE(outcome(sem.release()) == "UsageError");
  REQUIRE(available(sem) == 1);
}

TEST_CASE_METHOD(Fixture, "a bounded semaphore refuses a manual release while permits are held") {
  troupe::Semaphore sem(system, 2, {.bounded = true});
  troupe::Permit p = take(sem);  // goes back by itself, so a manual release would be extra
  REQUIRE(outcome(sem.release()) == "UsageError");
  p.release();
  REQUIRE(eventually([&] { return available(sem) == 2; }));
}

TEST_CASE_METHOD(Fixture, "an unbounded semaphore gains a permit with each extra release") {
  troupe::Semaphore sem(system, 0);  // Python's Semaphore(0) as a signal
  auto w = sem.acquire(1s);
  REQUIRE(eventually([&] { return waiting(sem) == 1; }));
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(outcome(w) == "value");
  REQUIRE(outcome(sem.release()) == "value");
  REQUIRE(available(sem) == 1);
}

// -- holders that end
// ------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture,
                 "the permits of an actor that stops come back, kept, detached or parked") {
  troupe::Semaphore sem(system, 3);
  troupe::Promise<void> never;
  auto h = system.spawn<Holder>("h", sem, never.future());
  h.ask(Grab{}).get(kPatience);
  h.ask(GrabDetached{}).get(kPatience);
  h.tell(GrabAndPark{});
  REQUIRE(eventually([&] { return available(sem) == 0; }));
  h.stop();
  REQUIRE(eventually([&] { return available(sem) == 3; }));
}

TEST_CASE_METHOD(Fixture, "the permits of an actor that fails come back") {
  troupe::Semaphore sem(system, 2);
  troupe::Promise<void> never;
  auto h = system.spawn<Holder>("h", sem, never.future());
  h.ask(Grab{}).get(kPatience);
  h.ask(GrabDetached{}).get(kPatience);
  REQUIRE(available(sem) == 0);
  h.tell(Fail{});
  REQUIRE(eventually([&] { return !h.alive(); }));
  REQUIRE(eventually([&] { return available(sem) == 2; }));
}

TEST_CASE_METHOD(
    Fixture, "a permit handed out by an actor that ended is already back; its release is a no-op") {
  troupe::Semaphore sem(system, 1);
  troupe::Promise<void> never;
  auto h = system.spawn<Holder>("h", sem, never.future());
  troupe::Permit p = h.ask(Handover{}).get(kPatience);  // acquired by h, held by this thread
  REQUIRE(available(sem) == 0);
  h.stop();
  REQUIRE(eventually([&] { return available(sem) == 1; }));  // h ended: its permit is back
  troupe::Permit q = take(sem);
  p.release();  // a permit the semaphore took back: nothing happens
  REQUIRE(available(sem) == 0);
  REQUIRE(waiting(sem) == 0);
}

TEST_CASE_METHOD(Fixture, "an actor that ends while waiting is never handed a permit") {
  troupe::Semaphore sem(system, 1);
  troupe::Promise<void> never;
  troupe::Permit held = take(sem);
  auto h = system.spawn<Holder>("h", sem, never.future());
  h.tell(Queue{});
  REQUIRE(eventually([&] { return waiting(sem) == 1; }));
  h.stop();
  REQUIRE(eventually([&] { return waiting(sem) == 0; }));
  held.release();
  REQUIRE(eventually([&] { return available(sem) == 1; }));
}

// -- the end -------------------------------------------------------------------------------------

TEST_CASE("acquires pending at shutdown fail with Cancelled") {
  auto clock = std::make_shared<troupe::ManualClock>();
  troupe::System system{{.workers = 2, .clock = clock}};
  troupe::Semaphore sem(system, 1, {.name = "s"});
  troupe::Permit held = sem.acquire().get(kPatience);
  auto timed = sem.acquire(1s);
  auto forever = sem.acquire();
  REQUIRE(eventually([&] { return sem.waiting().get(kPatience) == 2; }));
  REQUIRE(system.shutdown(5s));
  REQUIRE(outcome(timed) == "Cancelled");
  REQUIRE(outcome(forever) == "Cancelled");
  auto dead_letters = system.stats().dead_letters;
  held.release();  // after shutdown: nothing to give back to, not even a dead letter
  REQUIRE(system.stats().dead_letters == dead_letters);
  REQUIRE(outcome(sem.acquire(1s)) == "Cancelled");  // calls after shutdown
  REQUIRE(outcome(sem.release()) == "Cancelled");
}

TEST_CASE("when the last copy of a semaphore goes, its actor stops") {
  troupe::System system{{.workers = 2}};
  std::size_t before = system.count();
  troupe::Future<troupe::Permit> w;
  {
    troupe::Semaphore sem(system, 0);
    w = sem.acquire();
    REQUIRE(eventually([&] { return sem.waiting().get(kPatience) == 1; }));
  }
  REQUIRE(outcome(w) == "Cancelled");
  REQUIRE(eventually([&] { return system.count() == before; }));
}

// -- under real threads
// ----------------------------------------------------------------------------

namespace {
struct Run {
  int rounds;
};
struct Contention {
  std::atomic<int> inside{0};
  std::atomic<int> high_water{0};
  std::atomic<int> rounds_done{0};
  std::atomic<int> actors_done{0};
};

class Contender : public troupe::Actor {
 public:
  Contender(troupe::Semaphore sem, Contention* c) : sem_(std::move(sem)), c_(c) {}

  troupe::Task<void> on(Run r) {
    for (int i = 0; i < r.rounds; ++i) {
      troupe::Permit p = co_await sem_.acquire(60s);
      int now = c_->inside.fetch_add(1) + 1;
      int high = c_->high_water.load();
      while (now > high && !c_->high_water.compare_exchange_weak(high, now)) {
      }
      co_await system().submit([] { std::this_thread::yield(); });  // hold it a moment
      c_->inside.fetch_sub(1);
      c_->rounds_done.fetch_add(1);
    }  // p goes back here
    c_->actors_done.fetch_add(1);
  }

 private:
  troupe::Semaphore sem_;
  Contention* c_;
};
}  // namespace

TEST_CASE("a Semaphore(3) never admits a fourth holder among 64 contending actors") {
#ifdef TROUPE_SANITIZED
  constexpr int kRounds = 10;
#else
  constexpr int kRounds = 50;
#endif
  constexpr int kActors = 64;
  troupe::System system;
  troupe::Semaphore sem(system, 3, {.name = "three"});
  Contention c;
  std::vector<troupe::Ref<Contender>> actors;
  for (int i = 0; i < kActors; ++i) actors.push_back(system.spawn<Contender>({}, sem, &c));
  for (auto& a : actors) a.tell(Run{kRounds});
  REQUIRE(eventually([&] { return c.actors_done.load() == kActors; }, 60s));
  REQUIRE(c.rounds_done.load() == kActors * kRounds);
  REQUIRE(c.high_water.load() <= 3);
  REQUIRE(c.high_water.load() >= 2);  // there was contention to speak of
  REQUIRE(eventually([&] { return sem.available().get(kPatience) == 3; }));

  SECTION("and recovers the permits of actors stopped while holding them") {
    troupe::Promise<void> never;
    std::vector<troupe::Ref<Holder>> hogs = {system.spawn<Holder>("kept", sem, never.future()),
                                             system.spawn<Holder>("detached", sem, never.future()),
                                             system.spawn<Holder>("parked", sem, never.future())};
    hogs[0].tell(Grab{});
    hogs[1].tell(GrabDetached{});
    hogs[2].tell(GrabAndPark{});
    REQUIRE(eventually([&] { return sem.available().get(kPatience) == 0; }));
    auto next = sem.acquire(60s);  // a contender for a permit that only a dead hog can free
    REQUIRE(eventually([&] { return sem.waiting().get(kPatience) == 1; }));
    hogs[1].stop();  // the detached permit is reclaimed by the semaphore's watch
    REQUIRE(outcome(next) == "value");
    for (auto& h : hogs) h.stop();
    troupe::Permit still = std::move(next).get(kPatience);
    REQUIRE(eventually([&] { return sem.available().get(kPatience) == 2; }));
  }
}
