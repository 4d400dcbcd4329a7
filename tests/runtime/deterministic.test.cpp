// Tests of the deterministic scheduler (scheduler.cpp manual mode) and troupe/testing.hpp.
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/testing.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Add {
  int n;
};
struct Total {};
class Counter : public troupe::Actor {
 public:
  void on(Add a) { total_ += a.n; }
  int on(Total) const { return total_; }

 private:
  int total_ = 0;
};

// Several writers race to append to one log; the interleaving depends on scheduling.
struct Append {
  std::string who;
};
struct Read {};
class Log : public troupe::Actor {
 public:
  void on(const Append& a) { entries_ += a.who; }
  std::string on(Read) const { return entries_; }

 private:
  std::string entries_;
};
struct Go {
  troupe::Ref<Log> log;
  std::string who;
  int times;
};
class Writer : public troupe::Actor {
 public:
  void on(const Go& g) {
    g.log.tell(Append{g.who});
    if (g.times > 1) self<Writer>().tell(Go{g.log, g.who, g.times - 1});
  }
};

// Notes its name when poked, then pokes the recorders listed, in that order.
class Recorder;
struct Poke {
  std::vector<troupe::Ref<Recorder>> then;
};
class Recorder : public troupe::Actor {
 public:
  Recorder(std::vector<std::string>* ran, std::string name) : ran_(ran), name_(std::move(name)) {}
  void on(const Poke& p) {
    ran_->push_back(name_);
    for (const auto& next : p.then) next.tell(Poke{});
  }

 private:
  std::vector<std::string>* ran_;  // one thread: the test's, in run_until_idle
  std::string name_;
};

std::string race(std::uint64_t seed) {
  troupe::System system({.deterministic = true, .seed = seed});
  auto log = system.spawn<Log>("log");
  for (const char* who : {"a", "b", "c"}) {
    system.spawn<Writer>().tell(Go{log, who, 3});
  }
  system.run_until_idle();
  auto read = log.ask(Read{});
  system.run_until_idle();
  return read.get(0ms);
}

}  // namespace

TEST_CASE("a deterministic system runs nothing until the test says so") {
  troupe::System system({.deterministic = true});
  REQUIRE(system.workers() == 0);
  auto c = system.spawn<Counter>("c");
  c.tell(Add{2});
  auto total = c.ask(Total{});
  REQUIRE_FALSE(total.ready());
  REQUIRE(system.runnable() == 1);
  REQUIRE(system.run_once());  // one turn handles both messages (batch)
  REQUIRE(total.ready());
  REQUIRE(total.get() == 2);
  REQUIRE_FALSE(system.run_once());
}

TEST_CASE("time moves only when the test advances it") {
  struct Tick {};
  troupe::System system({.deterministic = true});
  auto c = system.spawn([n = 0](Tick) mutable { return ++n; });
  auto timer = system.every(1s, c, Tick{});
  system.advance(999ms);
  REQUIRE(system.run_until_idle() == 0);
  system.advance(1ms);
  REQUIRE(system.run_until_idle() == 1);
  system.advance(3s);  // missed periods are skipped: one tick
  REQUIRE(system.run_until_idle() == 1);
  timer.cancel();
}

TEST_CASE("the same seed replays the same interleaving, other seeds find others") {
  std::string first = race(42);
  REQUIRE(first.size() == 9);
  REQUIRE(race(42) == first);
  std::set<std::string> seen;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) seen.insert(race(seed));
  REQUIRE(seen.size() > 1);
  for (auto& s : seen) {  // whatever the order, nothing is lost or duplicated
    std::string sorted = s;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(sorted == "aaabbbccc");
  }
}

TEST_CASE("seed zero runs actors in the order they became ready") {
  troupe::System system({.deterministic = true});  // seed 0
  std::vector<std::string> ran;
  auto a = system.spawn<Recorder>("a", &ran, "a");
  auto b = system.spawn<Recorder>("b", &ran, "b");
  auto c = system.spawn<Recorder>("c", &ran, "c");
  auto d = system.spawn<Recorder>("d", &ran, "d");
  c.tell(Poke{{d, a}});  // ready: c, then a, then b (not the order they were spawned in)
  a.tell(Poke{});
  b.tell(Poke{});
  REQUIRE(system.run_until_idle() == 4);
  // c's turn makes d ready behind a and b; a was already waiting, so its one turn handles
  // both of its messages.
  REQUIRE(ran == std::vector<std::string>{"c", "a", "a", "b", "d"});
}

TEST_CASE("a probe records what an actor sends, in order") {
  struct Request {
    troupe::Ref<troupe::ProbeActor<int>> reply_to;
    int n;
  };
  troupe::System system({.deterministic = true, .seed = 3});
  troupe::Probe<int> probe(system, "probe");
  auto doubler = system.spawn([](const Request& r) { r.reply_to.tell(r.n * 2); });
  doubler.tell(Request{probe.ref(), 1});
  doubler.tell(Request{probe.ref(), 2});
  REQUIRE_FALSE(probe.next().has_value());
  system.run_until_idle();
  REQUIRE(probe.next() == 2);
  REQUIRE(probe.next() == 4);
  REQUIRE_FALSE(probe.next().has_value());
}

TEST_CASE("join and shutdown of a deterministic system run what is left") {
  struct Steps {
    int left;
  };
  struct Stepper : troupe::Actor {
    void on(Steps s) {
      if (s.left == 0) return stop();
      self<Stepper>().tell(Steps{s.left - 1});
    }
  };
  troupe::System system({.deterministic = true, .seed = 9});
  auto s = system.spawn<Stepper>("stepper");
  s.tell(Steps{100});
  REQUIRE(system.join(1s));
  REQUIRE_FALSE(s.alive());
  auto stays = system.spawn<Counter>("stays");
  stays.tell(Add{1});
  REQUIRE(system.shutdown(1s, troupe::StopMode::drain));
  REQUIRE_FALSE(stays.alive());
}

TEST_CASE("blocking inside a deterministic turn fails loudly") {
  troupe::System system({.deterministic = true});
  troupe::Promise<int> never;
  auto f = never.future();
  auto a = system.spawn([f](int) -> bool {
    try {
      (void)f.get(1s);
    } catch (const troupe::WouldDeadlock&) {
      return true;
    }
    return false;
  });
  auto answer = a.ask(0);
  system.run_until_idle();
  REQUIRE(answer.get(0ms));
}

TEST_CASE("an untimed get on the test's thread runs the deterministic system until the "
          "answer is there") {
  troupe::System system({.deterministic = true});
  auto c = system.spawn<Counter>("c");
  c.tell(Add{5});
  REQUIRE(c.ask(Total{}).get() == 5);  // ran the turn itself instead of hanging
}

TEST_CASE("an untimed get that nothing left to run could complete fails loudly instead of "
          "hanging") {
  troupe::System system({.deterministic = true});
  struct Later {};
  auto c = system.spawn<Counter>("c");
  auto waiting = system.spawn([](Later) { return 1; });
  system.after(1s, waiting, Later{});  // due only once the test advances the clock
  troupe::Promise<int> never;
  REQUIRE_THROWS_AS(never.future().get(), troupe::WouldDeadlock);
  auto total = c.ask(Total{});
  REQUIRE(total.get() == 0);
}

TEST_CASE("a deterministic system refuses a clock that the test cannot advance") {
  REQUIRE_THROWS_AS(troupe::System({.clock = std::make_shared<troupe::SteadyClock>(),
                                    .deterministic = true}),
                    std::invalid_argument);
  REQUIRE_NOTHROW(troupe::System({.clock = std::make_shared<troupe::ManualClock>(),
                                  .deterministic = true}));
}

TEST_CASE("run_once on a threaded system is refused") {
  troupe::System system({.workers = 1});
  REQUIRE_THROWS_AS(system.run_once(), std::logic_error);
}

TEST_CASE("the snapshot counts messages handled, failures and restarts per actor") {
  struct Boom {};
  struct Fragile : troupe::Actor {
    void on(Add) {}
    void on(Boom) { throw std::runtime_error("boom"); }
  };
  troupe::System system({.deterministic = true});
  auto resumes = system.spawn<Fragile>({.name = "resumes", .on_failure = troupe::OnFailure::resume});
  auto restarts = system.spawn<Fragile>({.name = "restarts", .on_failure = troupe::OnFailure::restart});
  for (auto& r : {resumes, restarts}) {
    r.tell(Add{1});
    r.tell(Boom{});
    r.tell(Add{1});
    r.tell(Boom{});
  }
  system.run_until_idle();
  for (auto& info : system.actors()) {
    INFO(info.name);
    CHECK(info.handled == 4);
    CHECK(info.failures == 2);
    CHECK(info.restarts == (info.name == "restarts" ? 2u : 0u));
    CHECK(info.mailbox_depth == 0);
  }
}
