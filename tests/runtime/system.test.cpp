// Tests of System (system.cpp): registry, snapshot, submit/map, join and shutdown rules.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Ping {};
class Pinger : public troupe::Actor {
 public:
  int on(Ping) { return 1; }
};
class Other : public troupe::Actor {
 public:
  int on(Ping) { return 2; }
};

struct Park {
  troupe::Future<void> until;
  troupe::Promise<void>* started;
};
class Parker : public troupe::Actor {
 public:
  void on(const Park& p) {
    p.started->set_value();
    while (!p.until.ready()) std::this_thread::sleep_for(1ms);
  }
  int on(Ping) { return 3; }
};

}  // namespace

TEST_CASE("count, actors and find describe the live actors") {
  troupe::System system({.workers = 2});
  auto a = system.spawn<Pinger>("alpha");
  auto d = system.spawn<Other>({.name = "delta", .daemon = true});
  auto anon = system.spawn<Pinger>();
  REQUIRE(system.count() == 3);

  auto rows = system.actors();
  REQUIRE(rows.size() == 3);
  auto row = [&](const std::string& name) {
    for (auto& r : rows) {
      if (r.name == name) return r;
    }
    FAIL("no row named " << name);
    return troupe::ActorInfo{};
  };
  CHECK(row("alpha").type.find("Pinger") != std::string::npos);
  CHECK_FALSE(row("alpha").daemon);
  CHECK(row("delta").daemon);
  bool anon_listed = false;
  for (auto& r : rows) anon_listed |= r.name.find("Pinger#") != std::string::npos;
  CHECK(anon_listed);

  REQUIRE(system.find<Pinger>("alpha").has_value());
  REQUIRE(*system.find<Pinger>("alpha") == a);
  REQUIRE(system.find<troupe::Actor>("delta").has_value());
  REQUIRE_FALSE(system.find<Other>("alpha").has_value());  // wrong type
  REQUIRE_FALSE(system.find<Pinger>("nobody").has_value());
  REQUIRE(system.find<Other>("delta")->ask(Ping{}).get(5s) == 2);

  a.stop();
  for (int i = 0; i < 5000 && system.count() != 2; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(system.count() == 2);
  REQUIRE_FALSE(system.find<Pinger>("alpha").has_value());
  (void)anon;
  (void)d;
}

namespace {
struct Crash {};
class Base : public troupe::Actor {
 public:
  int on(Ping) { return 4; }
};
/// Fails on demand; spawned with the restart policy, so each Crash rebuilds it.
class Phoenix : public Base {
 public:
  using Base::on;
  void on(Crash) { throw std::runtime_error("crash on purpose"); }
};
}  // namespace

TEST_CASE("find looks at the type of an actor that a restart is rebuilding without a race, "
          "and finds it by a base class") {
  troupe::System system({.workers = 2});
  auto phoenix = system.spawn<Phoenix>({.name = "phoenix",
                                        .on_failure = troupe::OnFailure::restart,
                                        .max_restarts = 1'000'000,
                                        .restart_window = 1s});
  std::atomic<bool> done{false};
  std::thread crasher([&] {
    for (int i = 0; i < 2000; ++i) phoenix.tell(Crash{});
    done = true;
  });
  int found = 0;
  // At least a few hundred finds, and on until the crasher is done: under TSan, a find
  // that read the object raced with each rebuild.
  for (int i = 0; i < 500 || !done.load(); ++i) {
    found += system.find<Base>("phoenix").has_value() ? 1 : 0;
    REQUIRE_FALSE(system.find<Other>("phoenix").has_value());
  }
  crasher.join();
  REQUIRE(found > 0);
  REQUIRE(system.find<Phoenix>("phoenix").has_value());
  REQUIRE(system.find<troupe::Actor>("phoenix").has_value());
  REQUIRE(system.find<Base>("phoenix")->ask(Ping{}).get(5s) == 4);
}

TEST_CASE("the snapshot shows the mailbox depth of a busy actor") {
  troupe::System system({.workers = 2});
  auto p = system.spawn<Parker>("parker");
  troupe::Promise<void> release;
  troupe::Promise<void> started;
  p.tell(Park{release.future(), &started});
  started.future().get(5s);
  for (int i = 0; i < 10; ++i) p.tell(Ping{});
  auto rows = system.actors();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].mailbox_depth == 11);  // the message in hand counts until the turn ends
  CHECK(rows[0].state == troupe::ActorState::scheduled);
  release.set_value();
}

TEST_CASE("a name can be used by one live actor at a time") {
  troupe::System system({.workers = 2});
  auto first = system.spawn<Pinger>("unique");
  REQUIRE_THROWS_AS(system.spawn<Pinger>("unique"), std::invalid_argument);
  REQUIRE_THROWS_WITH(system.spawn<Pinger>("unique"), Catch::Contains("already running"));
  first.stop();
  for (int i = 0; i < 5000 && first.alive(); ++i) std::this_thread::sleep_for(1ms);
  auto second = system.spawn<Pinger>("unique");  // the name is free again
  REQUIRE(second.ask(Ping{}).get(5s) == 1);
}

TEST_CASE("submit returns the function's result or its exception") {
  troupe::System system({.workers = 2});
  auto square = system.submit([](int x) { return x * x; }, 12);
  REQUIRE(square.get(5s) == 144);
  auto text = system.submit([](std::string a, const std::string& b) { return a + b; },
                            std::string("ab"), std::string("cd"));
  REQUIRE(text.get(5s) == "abcd");
  auto bad = system.submit([]() -> int { throw std::out_of_range("nope"); });
  REQUIRE_THROWS_AS(bad.get(5s), std::out_of_range);
  std::atomic<int> ran{0};
  auto done = system.submit([&] { ran.fetch_add(1); });
  done.get(5s);
  REQUIRE(ran.load() == 1);
}

TEST_CASE("map returns every result in input order, or the first error") {
  troupe::System system({.workers = 2});
  std::vector<int> inputs;
  for (int i = 0; i < 1000; ++i) inputs.push_back(i);
  auto results = system.map([](int x) { return x * 3; }, inputs).get(10s);
  REQUIRE(results.size() == 1000);
  for (int i = 0; i < 1000; ++i) REQUIRE(results[i] == 3 * i);
  auto failing = system.map(
      [](int x) {
        if (x == 500) throw std::domain_error("500 is bad");
        return x;
      },
      inputs);
  REQUIRE_THROWS_WITH(failing.get(10s), "500 is bad");
}

TEST_CASE("join waits for submitted functions") {
  troupe::System system({.workers = 2});
  std::atomic<int> finished{0};
  for (int i = 0; i < 50; ++i) {
    system.submit([&] {
      std::this_thread::sleep_for(1ms);
      finished.fetch_add(1);
    });
  }
  REQUIRE(system.join(10s));
  REQUIRE(finished.load() == 50);
}

TEST_CASE("after shutdown, spawn throws and submit fails its future") {
  troupe::System system({.workers = 2});
  auto p = system.spawn<Pinger>("p");
  REQUIRE(system.shutdown(5s));
  REQUIRE(system.shutdown(5s));  // idempotent
  REQUIRE_FALSE(p.alive());
  REQUIRE_THROWS_AS(system.spawn<Pinger>("late"), troupe::ShutdownError);
  auto f = system.submit([] { return 1; });
  REQUIRE_THROWS_AS(f.get(5s), troupe::ShutdownError);
  REQUIRE_THROWS_AS(p.ask(Ping{}).get(5s), troupe::ActorStopped);
  REQUIRE_FALSE(p.tell(Ping{}));
}

TEST_CASE("join and shutdown called on a worker fail loudly instead of deadlocking") {
  troupe::System system({.workers = 2});
  auto inside = system.spawn([&system](int which) -> std::string {
    try {
      if (which == 0) system.join();
      if (which == 1) system.shutdown(1s);
    } catch (const troupe::WouldDeadlock& e) {
      return e.what();
    }
    return "no error";
  });
  REQUIRE_THAT(inside.ask(0).get(5s), Catch::Contains("worker"));
  REQUIRE_THAT(inside.ask(1).get(5s), Catch::Contains("worker"));
}

TEST_CASE("a ref outliving its system stays safe to use and to drop") {
  troupe::Ref<Pinger> survivor;
  {
    troupe::System system({.workers = 1});
    survivor = system.spawn<Pinger>("survivor");
  }
  REQUIRE_FALSE(survivor.alive());
  REQUIRE_FALSE(survivor.tell(Ping{}));
  REQUIRE_THROWS_AS(survivor.ask(Ping{}).get(1s), troupe::ActorStopped);
}

TEST_CASE("options that make no sense are refused at construction") {
  REQUIRE_THROWS_AS(troupe::System({.batch = 0}), std::invalid_argument);
}

TEST_CASE("actors spawned and stopped from several threads at once are each listed once, "
          "with distinct ids, and join sees the last of them end") {
#ifdef TROUPE_SANITIZED
  constexpr int kPerThread = 500;
#else
  constexpr int kPerThread = 20'000;
#endif
  constexpr int kThreads = 4;
  troupe::System system({.workers = 2});
  std::vector<std::vector<troupe::Ref<Pinger>>> spawned(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) spawned[t].push_back(system.spawn<Pinger>());
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(system.count() == kThreads * kPerThread);
  REQUIRE(system.stats().spawned == kThreads * kPerThread);
  auto rows = system.actors();
  REQUIRE(rows.size() == kThreads * kPerThread);
  std::vector<std::uint32_t> ids;
  for (const auto& r : rows) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  REQUIRE(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  REQUIRE(ids.front() > 0);

  threads.clear();  // now stop them from the same threads, all at once
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (auto& r : spawned[t]) r.stop();
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(system.join(10s));
  REQUIRE(system.count() == 0);
  REQUIRE(system.actors().empty());
}

namespace {
struct Relay {
  int left;
};
/// Spawns its successor, hands it the baton, and stops: at every moment one is alive.
struct Runner : troupe::Actor {
  explicit Runner(std::atomic<int>* finished) : finished_(finished) {}
  void on(Relay r) {
    if (r.left == 0) {
      finished_->store(1);
    } else {
      system().spawn<Runner>(troupe::SpawnOptions{}, finished_).tell(Relay{r.left - 1});
    }
    stop();
  }
  std::atomic<int>* finished_;
};
}  // namespace

TEST_CASE("join does not return while a relay of actors, each spawning the next before it "
          "stops, is still running") {
#ifdef TROUPE_SANITIZED
  constexpr int kLegs = 2'000;
#else
  constexpr int kLegs = 50'000;
#endif
  for (int round = 0; round < 3; ++round) {
    troupe::System system({.workers = 2});
    std::atomic<int> finished{0};
    system.spawn<Runner>(troupe::SpawnOptions{}, &finished).tell(Relay{kLegs});
    REQUIRE(system.join(30s));
    REQUIRE(finished.load() == 1);
    REQUIRE(system.count() == 0);
  }
}

TEST_CASE("options that make no sense are refused at construction with a clear error") {
  using troupe::System;
  using troupe::SystemOptions;
  auto refused = [](SystemOptions options) {
    try {
      System system(options);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(refused({.batch = 0}).find("batch") != std::string::npos);
  CHECK(refused({.spin = std::chrono::microseconds(-1)}).find("spin") != std::string::npos);
  CHECK(refused({.shutdown_deadline = std::chrono::milliseconds(-5)}).find("shutdown_deadline") !=
        std::string::npos);
  CHECK(refused({.workers = 2, .deterministic = true}).find("no worker threads") !=
        std::string::npos);
  CHECK(refused({.workers = 1, .seed = 7}).find("seed") != std::string::npos);
  CHECK(refused({.clock = std::make_shared<troupe::SteadyClock>(), .deterministic = true})
            .find("ManualClock") != std::string::npos);
  CHECK(refused({.workers = 1}) == "accepted");
}

TEST_CASE("spawn options that make no sense are refused before the actor is built") {
  troupe::System system({.workers = 1});
  REQUIRE_THROWS_AS(system.spawn<Pinger>({.on_failure = troupe::OnFailure::restart,
                                          .restart_window = std::chrono::milliseconds(0)}),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(system.spawn<Pinger>({.overflow = troupe::Overflow::drop_oldest}),
                    std::invalid_argument);
  REQUIRE(system.count() == 0);
  REQUIRE_NOTHROW(system.spawn<Pinger>({.mailbox_capacity = 4,
                                        .overflow = troupe::Overflow::drop_oldest}));
}
