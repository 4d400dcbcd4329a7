// Tests of asks (ref.hpp, detail/envelopes.hpp): answers, errors, timeouts, stopped targets.
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Nap {
  std::chrono::milliseconds length;
  troupe::Promise<void>* started = nullptr;  // set when the nap begins
};
struct Echo {
  std::string text;
};
struct Explode {};

class Sleeper : public troupe::Actor {
 public:
  int on(const Nap& n) {
    if (n.started != nullptr) n.started->set_value();
    std::this_thread::sleep_for(n.length);
    return 1;
  }
  std::string on(const Echo& e) { return e.text; }
  int on(Explode) { throw std::runtime_error("kaboom"); }
};

}  // namespace

TEST_CASE("an ask answers with the handler's return value") {
  troupe::System system({.workers = 2});
  auto s = system.spawn<Sleeper>("sleeper");
  REQUIRE(s.ask(Echo{"hello"}).get(5s) == "hello");
}

TEST_CASE("an ask that is not answered in time throws a timeout error naming the wait") {
  troupe::System system({.workers = 2});
  auto s = system.spawn<Sleeper>("sleeper");
  auto slow = s.ask(Nap{300ms});
  REQUIRE_THROWS_AS(slow.get(20ms), troupe::TimeoutError);
  REQUIRE_THROWS_WITH(slow.get(1ms), Catch::Contains("no result within"));
  REQUIRE(slow.get(10s) == 1);  // a timeout does not cancel the ask
}

TEST_CASE("an ask to a stopped actor fails with ActorStopped naming the actor") {
  troupe::System system({.workers = 2});
  auto s = system.spawn<Sleeper>("sleeper");
  s.stop();
  for (int i = 0; i < 1000 && s.alive(); ++i) std::this_thread::sleep_for(1ms);
  REQUIRE_FALSE(s.alive());
  auto f = s.ask(Echo{"anyone?"});
  REQUIRE(f.ready());
  REQUIRE_THROWS_AS(f.get(), troupe::ActorStopped);
  REQUIRE_THROWS_WITH(f.get(), Catch::Contains("'sleeper'") && Catch::Contains("stopped"));
}

TEST_CASE("asks queued behind an immediate stop fail, asks before a draining stop answer") {
  troupe::System system({.workers = 1});
  auto now = system.spawn<Sleeper>("now");
  troupe::Promise<void> started;
  auto busy = now.ask(Nap{50ms, &started});
  started.future().get(5s);  // inside the nap: what follows queues up behind it
  auto queued = now.ask(Echo{"late"});
  now.stop(troupe::StopMode::now);
  REQUIRE(busy.get(5s) == 1);
  REQUIRE_THROWS_AS(queued.get(5s), troupe::ActorStopped);

  auto drain = system.spawn<Sleeper>("drain");
  auto first = drain.ask(Nap{20ms});
  auto second = drain.ask(Echo{"kept"});
  drain.stop(troupe::StopMode::drain);
  auto after = drain.ask(Echo{"too late"});
  REQUIRE(first.get(5s) == 1);
  REQUIRE(second.get(5s) == "kept");
  REQUIRE_THROWS_AS(after.get(5s), troupe::ActorStopped);
}

TEST_CASE("an ask whose handler throws fails with that exception") {
  troupe::System system({.workers = 2});
  auto s = system.spawn<Sleeper>("fragile");
  auto f = s.ask(Explode{});
  REQUIRE_THROWS_WITH(f.get(5s), "kaboom");
  REQUIRE_THROWS_AS(f.get(5s), std::runtime_error);
  // the failure also ended the actor: later asks say so, with the reason
  for (int i = 0; i < 1000 && s.alive(); ++i) std::this_thread::sleep_for(1ms);
  REQUIRE_THROWS_WITH(s.ask(Echo{"x"}).get(5s), Catch::Contains("failed") &&
                                                    Catch::Contains("kaboom"));
}

TEST_CASE("asks from many threads each get their own answer") {
  troupe::System system({.workers = 2});
  auto echo = system.spawn([](int n) { return n * n; });
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        int n = t * 10'000 + i;
        if (echo.ask(n).get(10s) != n * n) wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(wrong.load() == 0);
}
