// Tests of runtime/src/future.cpp, troupe/future.hpp and troupe/when.hpp: Promise/Future,
// continuations, when_all/when_any, and the rule that workers never block on a future.
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

/// What a test's helper threads may wait at most; never reached when things work.
constexpr auto kPatience = 5s;

struct Probe {};

std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "?";
  }
}

}  // namespace

// -- value and error -----------------------------------------------------------------------------

TEST_CASE("every member of an empty future but valid() throws EmptyHandle") {
  troupe::Future<int> empty;
  REQUIRE_FALSE(empty.valid());
  REQUIRE_THROWS_AS(empty.ready(), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.failed(), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.error(), troupe::EmptyHandle);
  REQUIRE_THROWS_WITH(empty.get(), Catch::Contains("Future") && Catch::Contains("empty"));
  REQUIRE_THROWS_AS(empty.get(1ms), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.wait_for(1ms), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.then([](int n) { return n; }), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.on_ready([](const troupe::Future<int>&) {}), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.operator co_await(), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(troupe::Future<int>().get(), troupe::EmptyHandle);  // the rvalue get
}

TEST_CASE("a promise's value reaches its future") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  REQUIRE(f.valid());
  REQUIRE_FALSE(f.ready());
  REQUIRE(p.set_value(42));
  REQUIRE(f.ready());
  REQUIRE_FALSE(f.failed());
  REQUIRE(f.error() == nullptr);
  REQUIRE(f.get() == 42);
  REQUIRE(f.get(1s) == 42);  // get may be called again
}

TEST_CASE("a promise's exception is rethrown by get") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  REQUIRE(p.set_exception(std::make_exception_ptr(std::runtime_error("no quote"))));
  REQUIRE(f.ready());
  REQUIRE(f.failed());
  REQUIRE(message_of(f.error()) == "no quote");
  REQUIRE_THROWS_WITH(f.get(), "no quote");
  REQUIRE_THROWS_AS(f.get(1s), std::runtime_error);
}

TEST_CASE("a default-constructed future is not valid") {
  troupe::Future<int> f;
  REQUIRE_FALSE(f.valid());
}

TEST_CASE("ready_with and failed make futures that are already complete") {
  auto ok = troupe::Future<std::string>::ready_with("done");
  REQUIRE(ok.ready());
  REQUIRE(ok.get() == "done");
  auto bad = troupe::Future<std::string>::failed(std::make_exception_ptr(std::logic_error("x")));
  REQUIRE(bad.failed());
  REQUIRE_THROWS_AS(bad.get(), std::logic_error);
}

TEST_CASE("copies of a future share one result") {
  troupe::Promise<std::string> p;
  troupe::Future<std::string> a = p.future();
  troupe::Future<std::string> b = a;
  troupe::Future<std::string> c = p.future();
  REQUIRE(a == b);
  REQUIRE(a == c);
  p.set_value("shared");
  REQUIRE(a.get() == "shared");
  REQUIRE(b.get() == "shared");
  REQUIRE(std::move(c).get() == "shared");  // an rvalue get copies while others share it
  REQUIRE(a.get() == "shared");
}

TEST_CASE("an rvalue get of the only future moves the value out") {
  troupe::Future<std::vector<int>> f;
  {
    troupe::Promise<std::vector<int>> p;
    f = p.future();
    p.set_value(std::vector<int>{1, 2, 3});
  }  // the promise is gone: the future is the state's only owner
  std::vector<int> v = std::move(f).get();
  REQUIRE(v == std::vector<int>{1, 2, 3});
}

// -- timeouts ------------------------------------------------------------------------------------

TEST_CASE("get with a timeout throws TimeoutError when nothing arrives") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  REQUIRE_THROWS_AS(f.get(20ms), troupe::TimeoutError);
  REQUIRE_THROWS_AS(std::move(f).get(1ms), troupe::TimeoutError);
  REQUIRE_FALSE(f.wait_for(1ms));
  // A timeout is no failure: the future still completes afterwards.
  p.set_value(7);
  REQUIRE(f.wait_for(0ms));
  REQUIRE(f.get(0ms) == 7);
}

TEST_CASE("a TimeoutError is a troupe::Error and says how long it waited") {
  troupe::Promise<void> p;
  try {
    p.future().get(15ms);
    FAIL("get returned without a result");
  } catch (const troupe::Error& e) {
    REQUIRE(dynamic_cast<const troupe::TimeoutError*>(&e) != nullptr);
    REQUIRE_THAT(e.what(), Catch::Contains("15.0 ms"));
  }
}

// -- broken promises -----------------------------------------------------------------------------

TEST_CASE("a dropped promise fails its future with BrokenPromise") {
  troupe::Future<int> f;
  {
    troupe::Promise<int> p;
    f = p.future();
  }
  REQUIRE(f.ready());
  REQUIRE(f.failed());
  REQUIRE_THROWS_AS(f.get(), troupe::BrokenPromise);
}

TEST_CASE("a dropped promise that was fulfilled leaves the value alone") {
  troupe::Future<int> f;
  {
    troupe::Promise<int> p;
    f = p.future();
    p.set_value(3);
  }
  REQUIRE(f.get() == 3);
}

TEST_CASE("assigning over an unfulfilled promise breaks the promise it replaced") {
  troupe::Promise<int> a;
  troupe::Future<int> fa = a.future();
  troupe::Promise<int> b;
  troupe::Future<int> fb = b.future();
  a = std::move(b);
  REQUIRE_THROWS_AS(fa.get(0ms), troupe::BrokenPromise);
  REQUIRE_FALSE(fb.ready());  // a now completes what b promised
  REQUIRE(a.set_value(5));
  REQUIRE(fb.get() == 5);
}

TEST_CASE("a moved-from promise neither completes nor breaks anything") {
  troupe::Promise<int> a;
  troupe::Future<int> f = a.future();
  troupe::Promise<int> b(std::move(a));
  REQUIRE_FALSE(a.set_value(1));  // NOLINT(bugprone-use-after-move): moved-from is documented
  REQUIRE_FALSE(a.set_exception(std::make_exception_ptr(std::runtime_error("x"))));
  REQUIRE_FALSE(f.ready());
  REQUIRE(b.set_value(2));
  REQUIRE(f.get() == 2);
}

// -- first set wins ------------------------------------------------------------------------------

TEST_CASE("the first set wins; later sets return false and change nothing") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  REQUIRE(p.set_value(1));
  REQUIRE_FALSE(p.set_value(2));
  REQUIRE_FALSE(p.set_exception(std::make_exception_ptr(std::runtime_error("late"))));
  REQUIRE(f.get() == 1);

  troupe::Promise<int> q;
  REQUIRE(q.set_exception(std::make_exception_ptr(std::runtime_error("first"))));
  REQUIRE_FALSE(q.set_value(3));
  REQUIRE_THROWS_WITH(q.future().get(), "first");
}

TEST_CASE("of threads racing to set one promise exactly one wins") {
  constexpr int kThreads = 4;
  for (int round = 0; round < 50; ++round) {
    troupe::Promise<int> p;
    troupe::Future<int> f = p.future();
    std::atomic<int> winners{0};
    std::atomic<int> winner_value{-1};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        bool won = i % 2 == 0 ? p.set_value(i)
                              : p.set_exception(std::make_exception_ptr(std::runtime_error("e")));
        if (won) {
          winners.fetch_add(1);
          winner_value.store(i);
        }
      });
    }
    go.store(true);
    for (auto& t : threads) t.join();
    REQUIRE(winners.load() == 1);
    REQUIRE(f.ready());
    if (winner_value.load() % 2 == 0) {
      REQUIRE(f.get() == winner_value.load());
    } else {
      REQUIRE_THROWS_WITH(f.get(), "e");
    }
  }
}

// -- Future<void> --------------------------------------------------------------------------------

TEST_CASE("a Future<void> completes without a value or with an error") {
  troupe::Promise<void> p;
  troupe::Future<void> f = p.future();
  REQUIRE_FALSE(f.ready());
  REQUIRE(p.set_value());
  REQUIRE_FALSE(p.set_value());
  REQUIRE_NOTHROW(f.get());
  REQUIRE_NOTHROW(f.get(1s));

  troupe::Promise<void> q;
  q.set_exception(std::make_exception_ptr(std::runtime_error("void failed")));
  REQUIRE_THROWS_WITH(q.future().get(), "void failed");

  troupe::Future<void> broken;
  { broken = troupe::Promise<void>().future(); }
  REQUIRE_THROWS_AS(broken.get(0ms), troupe::BrokenPromise);
}

// -- threads -------------------------------------------------------------------------------------

TEST_CASE("a future completed on another thread wakes the thread waiting in get") {
  troupe::Promise<std::string> p;
  troupe::Future<std::string> f = p.future();
  std::thread producer([p = std::move(p)] {
    std::this_thread::sleep_for(20ms);  // let the main thread start waiting first
    p.set_value("from afar");
  });
  std::string got = f.get(kPatience);
  producer.join();
  REQUIRE(got == "from afar");
}

TEST_CASE("a future dropped on another thread wakes the waiter with BrokenPromise") {
  troupe::Future<int> f;
  std::thread producer;
  {
    troupe::Promise<int> p;
    f = p.future();
    producer = std::thread([p = std::move(p)] { std::this_thread::sleep_for(10ms); });
  }
  REQUIRE_THROWS_AS(f.get(kPatience), troupe::BrokenPromise);
  producer.join();
}

TEST_CASE("many threads waiting on one future all see its value") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  std::atomic<int> saw{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([f, &saw] {
      try {
        if (f.get(kPatience) == 99) saw.fetch_add(1);
      } catch (...) {
      }
    });
  }
  p.set_value(99);
  for (auto& t : waiters) t.join();
  REQUIRE(saw.load() == 4);
}

// -- on_ready ------------------------------------------------------------------------------------

TEST_CASE("on_ready runs at once on a ready future, else on the completing thread") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  std::atomic<int> calls{0};
  f.on_ready([&](const troupe::Future<int>& g) {
    if (g.get() == 4) calls.fetch_add(1);
  });
  REQUIRE(calls.load() == 0);
  p.set_value(4);
  REQUIRE(calls.load() == 1);
  f.on_ready([&](const troupe::Future<int>& g) {
    if (g.get() == 4) calls.fetch_add(1);
  });
  REQUIRE(calls.load() == 2);
}

TEST_CASE("a throwing on_ready callback is reported and the other callbacks still run "
          "(test_concurrent_futures.test_done_callback_raises)") {
  troupe::Promise<int> p;
  troupe::Future<int> f = p.future();
  std::atomic<int> before{0};
  std::atomic<int> after{0};
  std::uint64_t errors = troupe::future_callback_errors();
  f.on_ready([&](const troupe::Future<int>&) { before.fetch_add(1); });
  f.on_ready([](const troupe::Future<int>&) { throw std::runtime_error("callback fails"); });
  f.on_ready([&](const troupe::Future<int>&) { after.fetch_add(1); });
  troupe::Future<int> chained = f.then([](int v) { return v + 1; });
  REQUIRE_NOTHROW(p.set_value(41));  // the completer does not see the callback's exception
  REQUIRE(before.load() == 1);
  REQUIRE(after.load() == 1);
  REQUIRE(chained.get(kPatience) == 42);  // not BrokenPromise: the value went on
  REQUIRE(f.get() == 41);
  REQUIRE(troupe::future_callback_errors() == errors + 1);
}

TEST_CASE("a callback that throws on an already ready future does not throw out of on_ready") {
  troupe::Future<int> f = troupe::Future<int>::ready_with(3);
  std::uint64_t errors = troupe::future_callback_errors();
  REQUIRE_NOTHROW(f.on_ready([](const troupe::Future<int>&) { throw 7; }));
  REQUIRE(troupe::future_callback_errors() == errors + 1);
}

namespace {
struct Question {};
struct Still {};
class Answerer : public troupe::Actor {
 public:
  int on(Question) { return 5; }
  bool on(Still) { return true; }
};
}  // namespace

TEST_CASE("a throwing callback on an ask's future does not fail the answering actor") {
  troupe::System system({.workers = 2});
  auto answerer = system.spawn<Answerer>();
  for (int i = 0; i < 20; ++i) {
    troupe::Future<int> f = answerer.ask(Question{});
    f.on_ready([](const troupe::Future<int>&) { throw std::logic_error("observer bug"); });
    REQUIRE(f.get(kPatience) == 5);
  }
  REQUIRE(answerer.ask(Still{}).get(kPatience));  // alive: no failure reached it
  REQUIRE(system.actors().at(0).failures == 0);
}

// -- then ----------------------------------------------------------------------------------------


TEST_CASE("then chains a value through continuations") {
  troupe::Promise<int> p;
  auto f = p.future().then([](int v) { return v * 2; }).then([](int v) {
    return std::to_string(v);
  });
  STATIC_REQUIRE(std::is_same_v<decltype(f), troupe::Future<std::string>>);
  REQUIRE_FALSE(f.ready());
  p.set_value(21);
  REQUIRE(f.get(0ms) == "42");
}

TEST_CASE("then on a ready future runs the continuation at once") {
  auto f = troupe::Future<int>::ready_with(1).then([](int v) { return v + 1; });
  REQUIRE(f.ready());
  REQUIRE(f.get() == 2);
}

TEST_CASE("then skips the continuation on an error and passes the error on") {
  troupe::Promise<int> p;
  std::atomic<bool> ran{false};
  auto f = p.future().then([&](int v) {
    ran.store(true);
    return v;
  });
  p.set_exception(std::make_exception_ptr(std::runtime_error("upstream")));
  REQUIRE_THROWS_WITH(f.get(0ms), "upstream");
  REQUIRE_FALSE(ran.load());
}

TEST_CASE("an exception thrown in a continuation fails the chained future") {
  troupe::Promise<int> p;
  auto f = p.future()
               .then([](int) -> int { throw std::out_of_range("in then"); })
               .then([](int v) { return v + 1; });
  p.set_value(1);
  REQUIRE_THROWS_AS(f.get(0ms), std::out_of_range);
}

TEST_CASE("then works on and into Future<void>") {
  troupe::Promise<void> p;
  std::atomic<int> steps{0};
  troupe::Future<int> f = p.future().then([&] { return ++steps; });
  troupe::Future<void> g = f.then([&](int) { ++steps; });
  p.set_value();
  REQUIRE(f.get(0ms) == 1);
  REQUIRE_NOTHROW(g.get(0ms));
  REQUIRE(steps.load() == 2);
}

TEST_CASE("a continuation runs on the thread that completes the future") {
  troupe::Promise<int> p;
  std::thread::id ran_on;
  auto f = p.future().then([&](int v) {
    ran_on = std::this_thread::get_id();
    return v;
  });
  std::thread::id completer;
  std::thread t([&] {
    completer = std::this_thread::get_id();
    p.set_value(1);
  });
  REQUIRE(f.get(kPatience) == 1);
  t.join();
  REQUIRE(ran_on == completer);
}


// -- move-only results ---------------------------------------------------------------------------


TEST_CASE("a future of a move-only type hands its value out through an rvalue get") {
  troupe::Promise<std::unique_ptr<int>> p;
  troupe::Future<std::unique_ptr<int>> f = p.future();
  p.set_value(std::make_unique<int>(8));
  p = troupe::Promise<std::unique_ptr<int>>();  // drop the writer's share of the state
  std::unique_ptr<int> v = std::move(f).get(1s);
  REQUIRE(*v == 8);
}


// -- when_all ------------------------------------------------------------------------------------

TEST_CASE("when_all gives every value in input order, whatever order they arrive in") {
  std::vector<troupe::Promise<int>> ps(4);
  std::vector<troupe::Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.future());
  auto all = troupe::when_all(std::move(fs));
  ps[2].set_value(2);
  ps[0].set_value(0);
  ps[3].set_value(3);
  REQUIRE_FALSE(all.ready());
  ps[1].set_value(1);
  REQUIRE(all.get(0ms) == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("when_all fails with the first error to arrive") {
  std::vector<troupe::Promise<int>> ps(3);
  std::vector<troupe::Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.future());
  auto all = troupe::when_all(std::move(fs));
  ps[0].set_value(0);
  ps[2].set_exception(std::make_exception_ptr(std::runtime_error("third failed first")));
  REQUIRE(all.failed());
  ps[1].set_exception(std::make_exception_ptr(std::runtime_error("second failed later")));
  REQUIRE_THROWS_WITH(all.get(0ms), "third failed first");
}

TEST_CASE("when_all fails when an input promise is dropped") {
  std::vector<troupe::Future<int>> fs;
  troupe::Promise<int> kept;
  fs.push_back(kept.future());
  { fs.push_back(troupe::Promise<int>().future()); }
  auto all = troupe::when_all(std::move(fs));
  REQUIRE_THROWS_AS(all.get(0ms), troupe::BrokenPromise);
}

TEST_CASE("when_all of nothing is ready at once with nothing") {
  auto all = troupe::when_all(std::vector<troupe::Future<int>>{});
  REQUIRE(all.ready());
  REQUIRE(all.get().empty());
  auto none = troupe::when_all(std::vector<troupe::Future<void>>{});
  REQUIRE(none.ready());
  REQUIRE_NOTHROW(none.get());
}

TEST_CASE("when_all of Future<void> completes once every input has") {
  std::vector<troupe::Promise<void>> ps(3);
  std::vector<troupe::Future<void>> fs;
  for (auto& p : ps) fs.push_back(p.future());
  troupe::Future<void> all = troupe::when_all(std::move(fs));
  ps[1].set_value();
  ps[0].set_value();
  REQUIRE_FALSE(all.ready());
  ps[2].set_value();
  REQUIRE_NOTHROW(all.get(0ms));
}

TEST_CASE("when_all collects values completed concurrently on many threads") {
  constexpr int kInputs = 16;
  std::vector<troupe::Promise<int>> ps(kInputs);
  std::vector<troupe::Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.future());
  auto all = troupe::when_all(std::move(fs));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kInputs; i += 4) ps[i].set_value(i * 10);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int> expected;
  for (int i = 0; i < kInputs; ++i) expected.push_back(i * 10);
  REQUIRE(all.get(kPatience) == expected);
}

// -- when_any ------------------------------------------------------------------------------------

TEST_CASE("when_any gives the index of the first future to complete") {
  std::vector<troupe::Promise<int>> ps(3);
  std::vector<troupe::Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.future());
  auto any = troupe::when_any(fs);
  REQUIRE_FALSE(any.ready());
  ps[1].set_value(10);
  ps[0].set_value(0);
  REQUIRE(any.get(0ms) == 1u);
  REQUIRE(fs[1].get() == 10);
}

TEST_CASE("when_any counts an error as completion") {
  std::vector<troupe::Promise<int>> ps(2);
  std::vector<troupe::Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.future());
  auto any = troupe::when_any(fs);
  ps[1].set_exception(std::make_exception_ptr(std::runtime_error("fast failure")));
  REQUIRE(any.get(0ms) == 1u);
  REQUIRE(fs[1].failed());
}

TEST_CASE("when_any of an already complete future is ready at once") {
  troupe::Promise<int> pending;
  std::vector<troupe::Future<int>> fs{pending.future(), troupe::Future<int>::ready_with(5)};
  REQUIRE(troupe::when_any(fs).get(0ms) == 1u);
}

TEST_CASE("when_any of nothing is refused") {
  REQUIRE_THROWS_AS(troupe::when_any(std::vector<troupe::Future<int>>{}), std::invalid_argument);
}

// -- blocking on workers -------------------------------------------------------------------------

TEST_CASE("get inside an actor handler on a worker throws WouldDeadlock") {
  troupe::System system({.workers = 1});
  troupe::Promise<int> never;  // completed only at the end, to release a handler that blocked
  troupe::Future<int> pending = never.future();
  auto blocker = system.spawn([pending](Probe) {
    try {
      pending.get(kPatience);
      return std::string("get returned");
    } catch (const troupe::WouldDeadlock&) {
      return std::string("WouldDeadlock");
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
  });
  auto answer = blocker.ask(Probe{});
  std::string got = "no answer";
  try {
    got = answer.get(2 * kPatience);
  } catch (const troupe::TimeoutError&) {
  }
  never.set_value(0);
  REQUIRE(got == "WouldDeadlock");
}

TEST_CASE("every blocking wait refuses on a worker: get(), get(timeout), wait_for") {
  troupe::System system({.workers = 2});
  troupe::Promise<void> never;
  troupe::Future<void> pending = never.future();
  auto refuses = [](auto&& wait) {
    try {
      wait();
    } catch (const troupe::WouldDeadlock&) {
      return true;
    } catch (...) {
    }
    return false;
  };
  auto probe = system.spawn([refuses, pending](int which) {
    switch (which) {
      case 0: return refuses([&] { pending.get(); });
      case 1: return refuses([&] { pending.get(kPatience); });
      default: return refuses([&] { (void)pending.wait_for(kPatience); });
    }
  });
  std::vector<troupe::Future<bool>> answers;
  for (int i = 0; i < 3; ++i) answers.push_back(probe.ask(i));
  std::vector<bool> got;
  for (auto& a : answers) {
    try {
      got.push_back(a.get(3 * kPatience));
    } catch (const troupe::Error&) {
      got.push_back(false);
    }
  }
  never.set_value();  // releases any handler that blocked after all
  REQUIRE(got == std::vector<bool>{true, true, true});
}

TEST_CASE("get on an already ready future is fine on a worker") {
  troupe::System system({.workers = 1});
  auto ready = troupe::Future<int>::ready_with(11);
  auto reader = system.spawn([ready](Probe) { return ready.get() + ready.get(1ms); });
  REQUIRE(reader.ask(Probe{}).get(kPatience) == 22);
}

TEST_CASE("a submitted function may not block on a future either") {
  troupe::System system({.workers = 1});
  troupe::Promise<int> never;
  troupe::Future<int> pending = never.future();
  auto job = system.submit([pending] {
    try {
      (void)pending.get(kPatience);
    } catch (const troupe::WouldDeadlock&) {
      return true;
    }
    return false;
  });
  bool refused = false;
  try {
    refused = job.get(2 * kPatience);
  } catch (const troupe::TimeoutError&) {
  }
  never.set_value(1);
  REQUIRE(refused);
}

TEST_CASE("get inside a dedicated-thread actor may block until the answer comes") {
  troupe::System system({.workers = 1});
  troupe::Promise<int> later;
  troupe::Future<int> pending = later.future();
  std::atomic<bool> waiting{false};
  auto blocking = system.spawn({.name = "blocking", .dedicated_thread = true}, [&waiting, pending](Probe) {
    waiting.store(true);
    return pending.get(kPatience) + 1;  // blocks this actor's own thread only
  });
  auto answer = blocking.ask(Probe{});
  // Wait (bounded) until the handler is inside get, so the get really has to block.
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!waiting.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(waiting.load());
  REQUIRE_FALSE(answer.ready());
  later.set_value(41);
  REQUIRE(answer.get(kPatience) == 42);
}
