// Tests of runtime/src/scheduler.cpp, driven through a System: batching and fairness,
// run-next, parking, throughput under many senders, and dedicated threads.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::kPatience;

namespace {

/// Spins (a worker must not block on a future) until `open` is set or kPatience passes.
void spin_until(const std::atomic<bool>& open) {
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!open.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
}

struct Work {};
struct Probe {};

}  // namespace

// -- batching and fairness -----------------------------------------------------------------------

TEST_CASE("an actor flooded with messages does not starve another on a single worker") {
  constexpr int kFlood = 10'000;
  std::atomic<int> handled{0};
  std::atomic<bool> open{false};
  troupe::System system({.workers = 1, .batch = 8});
  auto flooded = system.spawn([&handled, &open](Work) {
    // The first message holds the only worker until the whole flood and the probe are
    // queued, so the probe really has to get in while the flood is still waiting.
    if (handled.fetch_add(1) == 0) spin_until(open);
  });
  auto other = system.spawn([&handled](Probe) { return handled.load(); });

  for (int i = 0; i < kFlood; ++i) REQUIRE(flooded.tell(Work{}));
  auto answer = other.ask(Probe{});
  open.store(true);

  int handled_when_answered = answer.get(kPatience);
  CAPTURE(handled_when_answered);
  REQUIRE(handled_when_answered < kFlood);
  REQUIRE(eventually([&] { return handled.load() == kFlood; }));
}

TEST_CASE("two actors flooded on a single worker take turns") {
  constexpr int kFlood = 2'000;
  std::atomic<int> a_handled{0};
  std::atomic<int> b_handled{0};
  std::atomic<int> b_done_when_a_done{-1};
  std::atomic<bool> open{false};
  troupe::System system({.workers = 1, .batch = 8});
  auto a = system.spawn([&](Work) {
    if (a_handled.fetch_add(1) == 0) spin_until(open);
    if (a_handled.load() == kFlood) b_done_when_a_done.store(b_handled.load());
  });
  auto b = system.spawn([&](Work) { b_handled.fetch_add(1); });
  for (int i = 0; i < kFlood; ++i) {
    a.tell(Work{});
    b.tell(Work{});
  }
  open.store(true);
  REQUIRE(eventually([&] { return a_handled.load() == kFlood && b_handled.load() == kFlood; }));
  // Had a run all its messages in one go, b would have handled nothing by then.
  REQUIRE(b_done_when_a_done.load() > 0);
}

namespace {
struct Loop {};
/// co_awaits futures that are always ready, 200,000 times in one handler, after `open`
/// (turns enough for the worker to look at outside work, every 61st turn, many times over).
class ReadyLooper : public troupe::Actor {
 public:
  ReadyLooper(std::atomic<bool>* started, std::atomic<bool>* open, std::atomic<bool>* other_ran,
              std::atomic<int>* seen)
      : started_(started), open_(open), other_ran_(other_ran), seen_(seen) {}
  troupe::Task<void> on(Loop) {
    started_->store(true);
    spin_until(*open_);  // the other actor's message is queued behind this turn by now
    for (int i = 0; i < 200'000; ++i) co_await troupe::Future<void>::ready_with();
    seen_->store(other_ran_->load() ? 1 : 0);
  }

 private:
  std::atomic<bool>* started_;
  std::atomic<bool>* open_;
  std::atomic<bool>* other_ran_;
  std::atomic<int>* seen_;
};
}  // namespace

TEST_CASE("a coroutine whose futures are always ready still lets another actor run on a "
          "single worker") {
  // Regression (issue 14): a co_await on a ready future never suspended, so a producer
  // putting into an unbounded WorkQueue kept its worker for its whole loop; now one such
  // await in every few suspends and resumes as the actor's next message.
  std::atomic<bool> started{false};
  std::atomic<bool> open{false};
  std::atomic<bool> other_ran{false};
  std::atomic<int> seen{-1};
  troupe::System system({.workers = 1, .batch = 8});
  auto looper = system.spawn<ReadyLooper>({}, &started, &open, &other_ran, &seen);
  auto other = system.spawn([&other_ran](Probe) { other_ran.store(true); });
  looper.tell(Loop{});
  REQUIRE(eventually([&] { return started.load(); }));  // it holds the only worker now
  other.tell(Probe{});
  open.store(true);
  REQUIRE(eventually([&] { return seen.load() != -1; }));
  REQUIRE(seen.load() == 1);  // the other actor ran in the middle of the loop
}

TEST_CASE("a ping-pong pair on a single worker does not starve a third actor") {
  // The pair wakes each other through the worker's run-next slot; that slot is bounded.
  struct Hit {
    int n;
  };
  std::atomic<int> rounds{0};
  std::atomic<bool> stop{false};
  troupe::System system({.workers = 1});
  struct Bouncer : troupe::Actor {
    Bouncer(std::atomic<int>* r, std::atomic<bool>* s) : rounds(r), stop(s) {}
    troupe::Ref<Bouncer> peer;
    std::atomic<int>* rounds;
    std::atomic<bool>* stop;
    bool on(troupe::Ref<Bouncer> p) {
      peer = std::move(p);
      return true;
    }
    void on(Hit h) {
      rounds->fetch_add(1);
      if (!stop->load() && h.n < 50'000'000) peer.tell(Hit{h.n + 1});
    }
  };
  auto left = system.spawn<Bouncer>("left", &rounds, &stop);
  auto right = system.spawn<Bouncer>("right", &rounds, &stop);
  REQUIRE(left.ask(right).get(kPatience));
  REQUIRE(right.ask(left).get(kPatience));
  auto third = system.spawn([&rounds](Probe) { return rounds.load(); });

  left.tell(Hit{0});
  REQUIRE(eventually([&] { return rounds.load() > 1000; }));  // the pair is bouncing
  auto answer = third.ask(Probe{});
  int rounds_when_answered = -1;
  try {
    rounds_when_answered = answer.get(kPatience);
  } catch (const troupe::TimeoutError&) {
  }
  stop.store(true);
  REQUIRE(rounds_when_answered > 0);
}

namespace {
struct Spin {};
struct Stop {};
struct Question {};
struct Tick {};
/// Keeps itself busy: each message does ~2 us of work and sends itself the next.
class SelfFeeder : public troupe::Actor {
 public:
  explicit SelfFeeder(std::atomic<std::uint64_t>* handled) : handled_(handled) {}
  void on(Spin) {
    handled_->fetch_add(1, std::memory_order_relaxed);
    auto until = std::chrono::steady_clock::now() + 2us;
    while (std::chrono::steady_clock::now() < until) {
    }
    if (!stopping_) self<SelfFeeder>().tell(Spin{});
  }
  void on(Stop) { stopping_ = true; }

 private:
  std::atomic<std::uint64_t>* handled_;
  bool stopping_ = false;
};
}  // namespace

TEST_CASE("an actor that keeps telling itself holds back plain-thread asks and timers for a "
          "bounded number of turns, on 1 and 2 workers") {
  unsigned workers = GENERATE(1u, 2u);
  CAPTURE(workers);
  std::atomic<std::uint64_t> busy{0};
  std::atomic<int> ticks{0};  // both outlive the system, whose actors write them
  troupe::System system({.workers = workers});
  auto feeder = system.spawn<SelfFeeder>("feeder", &busy);
  auto answerer = system.spawn([](Question) { return 7; });
  auto ticked = system.spawn([&ticks](Tick) { ticks.fetch_add(1); });
  feeder.tell(Spin{});
  REQUIRE(eventually([&] { return busy.load() > 1000; }));
  // Counted in the busy actor's messages, not in time: outside work waits at most some
  // 61 turns of at most 64 messages (3,904). Before the fix, seconds: millions.
  constexpr std::uint64_t kBound = 20'000;
  for (int round = 0; round < 20; ++round) {
    std::uint64_t before = busy.load();
    REQUIRE(answerer.ask(Question{}).get(30s) == 7);
    CHECK(busy.load() - before < kBound);
  }
  for (int round = 0; round < 5; ++round) {
    std::uint64_t before = busy.load();
    int seen = ticks.load();
    system.after(0ms, ticked, Tick{});
    REQUIRE(eventually([&] { return ticks.load() > seen; }, 30s));
    CHECK(busy.load() - before < kBound);
  }
  feeder.tell(Stop{}, troupe::urgent);
}

TEST_CASE("an actor woken from inside a long handler runs on an idle worker meanwhile") {
  // Regression: an actor woken by a handler went into that worker's private run-next slot,
  // where no idle worker could see or steal it, so it waited for the whole waking handler.
  std::atomic<bool> a_busy{false};
  std::atomic<bool> release{false};
  std::atomic<bool> b_ran{false};
  std::atomic<bool> b_ran_while_a_busy{false};
  troupe::System system({.workers = 2});
  auto b = system.spawn([&](Probe) {
    b_ran_while_a_busy.store(a_busy.load());
    b_ran.store(true);
  });
  auto a = system.spawn([&, b](Work) {
    a_busy.store(true);
    b.tell(Probe{});  // wakes b from this worker
    spin_until(release);  // a long computation (spinning, not blocking)
    a_busy.store(false);
  });
  std::this_thread::sleep_for(20ms);  // let both workers go idle
  a.tell(Work{});
  // Give b a generous while to run elsewhere; a keeps its worker until released.
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!b_ran.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  release.store(true);
  REQUIRE(eventually([&] { return b_ran.load(); }));
  REQUIRE(b_ran_while_a_busy.load());
}

// -- parking -------------------------------------------------------------------------------------

TEST_CASE("idle workers park, and new work wakes them") {
  troupe::System system({.workers = 2, .spin = 50us});
  auto echo = system.spawn([](int n) { return n; });
  std::uint64_t parks_before = system.stats().worker_sleeps;
  REQUIRE(echo.ask(1).get(kPatience) == 1);
  std::this_thread::sleep_for(100ms);  // ~2000 spin periods: every worker is asleep by now
  auto idle = system.stats();
  REQUIRE(idle.worker_sleeps > parks_before);

  // Everyone sleeps: work from outside has to wake a worker up.
  REQUIRE(eventually([&] {
    std::this_thread::sleep_for(20ms);
    auto before = system.stats();
    bool answered = echo.ask(2).get(kPatience) == 2;
    return answered && system.stats().wakeups > before.wakeups;
  }));
  REQUIRE(eventually([&] { return system.stats().worker_sleeps > idle.worker_sleeps; }));
}

// -- throughput ----------------------------------------------------------------------------------

namespace {

class Pinger;
struct Pong {
  int left;
};
struct Ping {
  int left;
  troupe::Ref<Pinger> reply_to;
};

/// The function half of the pair: answers every Ping with a Pong.
struct PongFn {
  void operator()(const Ping& p) const;
};
using Ponger = troupe::FunctionActor<PongFn>;

/// The class half: serves `rounds` round trips, then reports how many it saw.
class Pinger : public troupe::Actor {
 public:
  Pinger(troupe::Ref<Ponger> ponger, troupe::Promise<int> done)
      : ponger_(std::move(ponger)), done_(std::move(done)) {}
  void on(const Pong& p) {
    ++round_trips_;
    if (p.left == 0) {
      done_.set_value(round_trips_);
      return;
    }
    ponger_.tell(Ping{p.left - 1, self<Pinger>()});
  }
  bool on(int rounds) {  // starts the game
    return ponger_.tell(Ping{rounds - 1, self<Pinger>()});
  }

 private:
  troupe::Ref<Ponger> ponger_;
  troupe::Promise<int> done_;
  int round_trips_ = 0;
};

void PongFn::operator()(const Ping& p) const { p.reply_to.tell(Pong{p.left}); }

}  // namespace

TEST_CASE("a function actor and a class actor play 100,000 round trips of ping-pong") {
  constexpr int kRounds = 100'000;
  troupe::System system({.workers = 2});
  troupe::Promise<int> done;
  troupe::Future<int> finished = done.future();
  auto ponger = system.spawn(PongFn{});
  auto pinger = system.spawn<Pinger>("pinger", ponger, std::move(done));
  REQUIRE(pinger.ask(kRounds).get(kPatience));
  REQUIRE(finished.get(6 * kPatience) == kRounds);
}

namespace {

struct Hit {};
struct Count {};

class Tally : public troupe::Actor {
 public:
  void on(Hit) { ++hits_; }
  int on(Count) const { return hits_; }

 private:
  int hits_ = 0;
};

}  // namespace

TEST_CASE("1,000 actors each get all 100 messages sent from 4 outside threads") {
  constexpr int kActors = 1'000;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;  // per actor: 4 * 25 = 100
  troupe::System system({.workers = 2});
  std::vector<troupe::Ref<Tally>> tallies;
  for (int i = 0; i < kActors; ++i) tallies.push_back(system.spawn<Tally>());
  REQUIRE(system.stats().spawned >= static_cast<std::uint64_t>(kActors));

  std::atomic<int> refused{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&tallies, &refused] {
      for (int round = 0; round < kPerThread; ++round) {
        for (auto& tally : tallies) {
          if (!tally.tell(Hit{})) refused.fetch_add(1);
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  REQUIRE(refused.load() == 0);

  std::vector<troupe::Future<int>> counts;
  for (auto& tally : tallies) counts.push_back(tally.ask(Count{}));
  int short_counts = 0;
  for (auto& c : counts) {
    if (c.get(kPatience) != kThreads * kPerThread) ++short_counts;
  }
  REQUIRE(short_counts == 0);
  REQUIRE(system.stats().dead_letters == 0);
}

namespace {
struct Numbered {
  std::uint32_t sender;
  std::uint64_t n;
};
struct Next {};

/// Counts what eight senders send it and how many arrived out of each sender's order.
class FanInCounter : public troupe::Actor {
 public:
  FanInCounter(std::uint64_t expected, troupe::Promise<std::uint64_t> done)
      : expected_(expected), done_(std::move(done)) {}
  void on(const Numbered& m) {
    if (m.n != next_[m.sender]) ++out_of_order_;
    next_[m.sender] = m.n + 1;
    if (++received_ == expected_) done_.set_value(out_of_order_);
  }

 private:
  std::uint64_t expected_;
  std::uint64_t received_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t next_[8] = {};
  troupe::Promise<std::uint64_t> done_;
};

/// Sends `count` numbered messages to the counter, 100 per turn (it tells itself Next).
class FanInSender : public troupe::Actor {
 public:
  FanInSender(troupe::Ref<FanInCounter> to, std::uint32_t id, std::uint64_t count)
      : to_(std::move(to)), id_(id), count_(count) {}
  void on(const Next&) {
    for (int i = 0; i < 100 && sent_ < count_; ++i) to_.tell(Numbered{id_, sent_++});
    if (sent_ < count_) self<FanInSender>().tell(Next{});
  }

 private:
  troupe::Ref<FanInCounter> to_;
  std::uint32_t id_;
  std::uint64_t count_;
  std::uint64_t sent_ = 0;
};
}  // namespace

TEST_CASE("eight senders on two workers reach one counter with every message once and in "
          "each sender's order, gathered or spread") {
  // Senders on both cores wait for the counter's mailbox lines (timed pushes and pops tell
  // the pool, which may gather them onto one worker mid-stream): nothing may be lost,
  // doubled or reordered while runnables move between workers.
  const bool gather = GENERATE(true, false);
  CAPTURE(gather);
  constexpr std::uint64_t kPerSender = 50'000;
  troupe::System system({.workers = 2, .gather = gather});
  troupe::Promise<std::uint64_t> done;
  auto out_of_order = done.future();
  auto counter =
      system.spawn<FanInCounter>(troupe::SpawnOptions{}, 8 * kPerSender, std::move(done));
  std::vector<troupe::Ref<FanInSender>> senders;
  for (std::uint32_t i = 0; i < 8; ++i) {
    senders.push_back(system.spawn<FanInSender>(troupe::SpawnOptions{}, counter, i, kPerSender));
  }
  for (auto& s : senders) s.tell(Next{});
  REQUIRE(out_of_order.get(kPatience) == 0);
  REQUIRE(system.stats().dead_letters == 0);
}

// -- dedicated threads ---------------------------------------------------------------------------

TEST_CASE("a dedicated-thread actor runs on its own thread, not on the pool") {
  troupe::System system({.workers = 1});
  auto on_pool = system.spawn([](Probe) { return std::this_thread::get_id(); });
  auto on_own = system.spawn({.name = "own-thread", .dedicated_thread = true},
                             [](Probe) { return std::this_thread::get_id(); });
  std::thread::id pool = system.submit([] { return std::this_thread::get_id(); }).get(kPatience);
  REQUIRE(on_pool.ask(Probe{}).get(kPatience) == pool);

  std::set<std::thread::id> own;
  for (int i = 0; i < 5; ++i) own.insert(on_own.ask(Probe{}).get(kPatience));
  REQUIRE(own.size() == 1);  // always the same thread...
  REQUIRE(*own.begin() != pool);  // ...which is not the worker
  REQUIRE(*own.begin() != std::this_thread::get_id());
}

TEST_CASE("a dedicated-thread actor may block in a handler without stalling a 1-worker pool") {
  std::atomic<bool> entered{false};
  troupe::Promise<int> gate;
  troupe::Future<int> gate_future = gate.future();
  troupe::System system({.workers = 1});
  auto blocker = system.spawn({.name = "blocker", .dedicated_thread = true},
                              [&entered, gate_future](Probe) {
                                entered.store(true);
                                return gate_future.get(kPatience);  // blocks its own thread
                              });
  auto pool_actor = system.spawn([](int n) { return n + 1; });

  auto blocked = blocker.ask(Probe{});
  REQUIRE(eventually([&] { return entered.load(); }));
  // The pool still works while the dedicated actor sits in its handler.
  for (int i = 0; i < 100; ++i) REQUIRE(pool_actor.ask(i).get(kPatience) == i + 1);
  REQUIRE(system.submit([] { return 7; }).get(kPatience) == 7);
  REQUIRE_FALSE(blocked.ready());

  gate.set_value(99);
  REQUIRE(blocked.get(kPatience) == 99);
}

TEST_CASE("dedicated-thread and pool actors exchange many messages") {
  constexpr int kRounds = 2'000;
  troupe::System system({.workers = 1});
  troupe::Promise<int> done;
  troupe::Future<int> finished = done.future();
  auto ponger = system.spawn({.name = "dedicated-ponger", .dedicated_thread = true}, PongFn{});
  auto pinger = system.spawn<Pinger>("pinger", ponger, std::move(done));
  REQUIRE(pinger.ask(kRounds).get(kPatience));
  REQUIRE(finished.get(kPatience) == kRounds);
}
