// Tests of the timer service (timers.cpp): after, every, cancel, stopped owners, the clock.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Tick {
  int n = 0;
};
struct Count {};
struct Gate {
  troupe::Future<void> open;
  troupe::Promise<void>* inside;
};
struct StartTicking {
  std::chrono::milliseconds period;
};
struct StartOnce {
  std::chrono::milliseconds delay;
};
struct CancelAll {};

class Ticker : public troupe::Actor {
 public:
  void on(Tick t) { seen_.push_back(t.n); }
  std::vector<int> on(Count) const { return seen_; }
  void on(const Gate& g) {
    g.inside->set_value();
    while (!g.open.ready()) std::this_thread::sleep_for(1ms);
  }
  void on(StartTicking s) { timers_.push_back(every(s.period, self<Ticker>(), Tick{7})); }
  void on(StartOnce s) { timers_.push_back(after(s.delay, self<Ticker>(), Tick{1})); }
  void on(CancelAll) {
    for (auto& t : timers_) t.cancel();
  }

 private:
  std::vector<int> seen_;
  std::vector<troupe::Timer> timers_;
};

using Fixture = support::ClockedSystem;

}  // namespace

TEST_CASE_METHOD(Fixture, "a delayed message arrives when due and not a moment before") {
  auto t = system.spawn<Ticker>("t");
  auto timer = system.after(1s, t, Tick{1});
  clock->advance(999ms);
  REQUIRE(t.ask(Count{}).get(5s).empty());
  REQUIRE(timer.active());
  clock->advance(1ms);
  REQUIRE(t.ask(Count{}).get(5s) == std::vector<int>{1});
  REQUIRE_FALSE(timer.active());  // a one-shot timer is spent once delivered
}

TEST_CASE_METHOD(Fixture, "timers due at the same time fire in the order they were made") {
  auto t = system.spawn<Ticker>("t");
  for (int i = 0; i < 5; ++i) system.after(10ms, t, Tick{i});
  clock->advance(10ms);
  REQUIRE(t.ask(Count{}).get(5s) == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE_METHOD(Fixture, "a cancelled timer's message is never delivered") {
  auto t = system.spawn<Ticker>("t");
  auto timer = system.after(1s, t, Tick{1});
  timer.cancel();
  clock->advance(2s);
  REQUIRE(t.ask(Count{}).get(5s).empty());
}

TEST_CASE_METHOD(Fixture, "a timer cancelled after it fired but before it was handled is not delivered") {
  auto t = system.spawn<Ticker>("t");
  troupe::Promise<void> open;
  troupe::Promise<void> inside;
  t.tell(Gate{open.future(), &inside});
  inside.future().get(5s);
  auto timer = system.after(1s, t, Tick{1});
  clock->advance(1s);  // the tick is now queued behind the gate
  timer.cancel();
  open.set_value();
  REQUIRE(t.ask(Count{}).get(5s).empty());
  REQUIRE(system.stats().dead_letters == 0);
}

TEST_CASE_METHOD(Fixture, "a repeating timer fires once per period and skips missed periods") {
  auto t = system.spawn<Ticker>("t");
  t.tell(StartTicking{100ms});
  REQUIRE(t.ask(Count{}).get(5s).empty());  // the timer exists once this answers
  clock->advance(100ms);
  clock->advance(100ms);
  clock->advance(100ms);
  REQUIRE(t.ask(Count{}).get(5s).size() == 3);
  clock->advance(1s);  // ten periods at once: one message, not ten
  REQUIRE(t.ask(Count{}).get(5s).size() == 4);
  t.tell(CancelAll{});
  REQUIRE(t.ask(Count{}).get(5s).size() == 4);
  clock->advance(1s);
  REQUIRE(t.ask(Count{}).get(5s).size() == 4);
}

TEST_CASE_METHOD(Fixture, "the timers of a stopped actor never fire") {
  struct Probe {
    std::atomic<int>* fired;
  };
  auto t = system.spawn<Ticker>("t");
  t.tell(StartTicking{10ms});
  t.tell(StartOnce{50ms});
  REQUIRE(t.ask(Count{}).get(5s).empty());
  t.stop();
  for (int i = 0; i < 5000 && t.alive(); ++i) std::this_thread::sleep_for(1ms);
  REQUIRE_FALSE(t.alive());
  auto before = system.stats().dead_letters;
  clock->advance(1s);
  REQUIRE(system.stats().dead_letters == before);  // not even as dead letters
}

TEST_CASE_METHOD(Fixture, "100,000 timers with half cancelled deliver exactly the other half") {
  struct Counter : troupe::Actor {
    long count = 0;
    void on(Tick) { ++count; }
    long on(Count) const { return count; }
  };
  auto c = system.spawn<Counter>("counter");
  std::vector<troupe::Timer> timers;
  timers.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    timers.push_back(system.after(std::chrono::milliseconds(1 + i % 1000), c, Tick{i}));
  }
  for (int i = 0; i < 100'000; i += 2) timers[i].cancel();
  for (int step = 0; step < 10; ++step) clock->advance(100ms);
  REQUIRE(c.ask(Count{}).get(30s) == 50'000);
}

TEST_CASE("on the real clock a timer never fires early") {
  struct Stamp {
    std::chrono::steady_clock::time_point sent;
  };
  troupe::System system({.workers = 2});
  troupe::Promise<std::chrono::steady_clock::duration> waited;
  auto a = system.spawn([&waited](Stamp s) { waited.set_value(std::chrono::steady_clock::now() - s.sent); });
  system.after(30ms, a, Stamp{std::chrono::steady_clock::now()});
  REQUIRE(waited.future().get(10s) >= 30ms);
}

TEST_CASE("shutdown stops the timers") {
  auto clock = std::make_shared<troupe::ManualClock>();
  troupe::Timer timer;
  {
    troupe::System system({.workers = 1, .clock = clock});
    auto t = system.spawn<Ticker>({.name = "t", .daemon = true});
    timer = system.every(10ms, t, Tick{});
    system.shutdown(1s);
    REQUIRE_FALSE(timer.active());
  }
  clock->advance(1s);  // harmless once the system is gone
}
