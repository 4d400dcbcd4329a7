// Conformance: CPython's Lib/test/test_threading.py (ThreadTests, ThreadingExceptionTests)
// ported to actors: a Thread is an actor, `daemon=True` the spawn option, `active_count()`
// is `system.count()`, `enumerate()` is `system.actors()`, and waiting for non-daemon
// threads at exit is `system.join()`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/system_actors.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::kPatience;
using support::outcome;

namespace {

struct Ping {};
class Idle : public troupe::Actor {
 public:
  int on(Ping) { return 1; }
};

/// A row of `system.actors()` by name, or none.
std::optional<troupe::ActorInfo> row(troupe::System& system, const std::string& name) {
  for (auto& r : system.actors()) {
    if (r.name == name) return r;
  }
  return std::nullopt;
}

/// test_various_ops' task: wait for a permit of a bounded semaphore of 3, count how many
/// run at once, hold the permit until `go` is set, then end.
struct Run {};
class Task3 : public troupe::Actor {
 public:
  struct Shared {
    Shared(troupe::Semaphore s, troupe::Event e) : sem(std::move(s)), go(std::move(e)) {}
    troupe::Semaphore sem;
    troupe::Event go;
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::atomic<int> done{0};
  };
  explicit Task3(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  troupe::Task<void> on(Run) {
    troupe::Permit permit = co_await shared_->sem.acquire();
    int now = shared_->running.fetch_add(1) + 1;
    int most = shared_->most.load();
    while (now > most && !shared_->most.compare_exchange_weak(most, now)) {
    }
    bool go = co_await shared_->go.wait();
    (void)go;
    shared_->running.fetch_sub(1);
    permit.release();
    shared_->done.fetch_add(1);
    stop();  // the "thread" ends
  }

 private:
  std::shared_ptr<Shared> shared_;
};

/// Fails in its constructor when asked to (test_limbo_cleanup's thread that cannot start).
class Unstartable : public troupe::Actor {
 public:
  explicit Unstartable(bool fail) {
    if (fail) throw std::runtime_error("cannot start");
  }
  int on(Ping) { return 1; }
};

}  // namespace

TEST_CASE(
    "threading: an actor is a daemon only when spawned as one, and actors() says so "
    "(test_threading.ThreadTests.test_daemon_param)") {
  troupe::System system({.workers = 2});
  auto plain = system.spawn<Idle>({.name = "plain"});
  auto explicit_plain = system.spawn<Idle>({.name = "not-daemon", .daemon = false});
  auto daemon = system.spawn<Idle>({.name = "daemon", .daemon = true});
  REQUIRE_FALSE(row(system, "plain")->daemon);
  REQUIRE_FALSE(row(system, "not-daemon")->daemon);
  REQUIRE(row(system, "daemon")->daemon);
  plain.stop();
  explicit_plain.stop();
  daemon.stop();
}

TEST_CASE(
    "threading: count and actors list every live actor, daemons included, and name "
    "unnamed ones distinctly (test_threading.ThreadTests.test_various_ops)") {
  troupe::System system({.workers = 2});
  auto shared = std::make_shared<Task3::Shared>(
      troupe::Semaphore(system, 3, {.bounded = true, .name = "sem"}), troupe::Event(system, "go"));
  std::size_t initial = system.count();  // the semaphore's and the event's daemon actors
  REQUIRE(initial == 2);
  constexpr int NUMTASKS = 10;
  std::vector<troupe::Ref<Task3>> tasks;
  for (int i = 0; i < NUMTASKS; ++i) {
    tasks.push_back(system.spawn<Task3>({.name = "<thread " + std::to_string(i) + ">"}, shared));
  }
  auto anonymous1 = system.spawn<Idle>();
  auto anonymous2 = system.spawn<Idle>();
  REQUIRE(system.count() == initial + NUMTASKS + 2);
  std::set<std::string> names;
  for (auto& r : system.actors()) names.insert(r.name);
  REQUIRE(names.size() == initial + NUMTASKS + 2);  // every name distinct
  for (int i = 0; i < NUMTASKS; ++i) REQUIRE(names.count("<thread " + std::to_string(i) + ">"));
  for (auto& t : tasks) t.tell(Run{});
  REQUIRE(eventually([&] {
    return shared->running.load() == 3 && shared->sem.waiting().get(kPatience) == NUMTASKS - 3;
  }));
  REQUIRE_FALSE(system.join(20ms));  // ten tasks and two idle actors still running
  anonymous1.stop();
  anonymous2.stop();
  shared->go.set();
  REQUIRE(system.join(kPatience));  // waits for every non-daemon actor to end
  REQUIRE(shared->done.load() == NUMTASKS);
  REQUIRE(shared->most.load() == 3);  // never more than the semaphore's 3 at once
  REQUIRE(shared->running.load() == 0);
  REQUIRE(system.count() == initial);  // the daemons are still there
}

TEST_CASE(
    "threading: an actor that ended is no longer counted nor listed "
    "(test_threading.ThreadTests.test_enumerate_after_join)") {
  troupe::System system({.workers = 2});
  std::size_t old = system.count();
  for (int i = 0; i < 100; ++i) {
    auto a = system.spawn<Idle>({.name = "short-lived"});
    REQUIRE(a.ask(Ping{}).get(kPatience) == 1);
    a.stop();
    REQUIRE(system.join(kPatience));
    REQUIRE(system.count() == old);
    REQUIRE_FALSE(row(system, "short-lived").has_value());
  }
}

TEST_CASE(
    "threading: join waits for non-daemon actors, not for daemons, which shutdown stops "
    "(test_threading.ThreadTests.test_join_nondaemon_on_shutdown)") {
  troupe::System system({.workers = 2});
  auto daemon = system.spawn<Idle>({.name = "daemon", .daemon = true});
  REQUIRE(system.join(kPatience));  // only a daemon alive: nothing to wait for
  auto worker = system.spawn<Idle>({.name = "worker"});
  auto start = std::chrono::steady_clock::now();
  REQUIRE_FALSE(system.join(50ms));
  REQUIRE(std::chrono::steady_clock::now() - start >= 50ms);
  std::thread stopper([&] {
    std::this_thread::sleep_for(10ms);
    worker.stop();
  });
  REQUIRE(system.join(kPatience));  // returns once the non-daemon actor ended
  stopper.join();
  REQUIRE(daemon.alive());
  REQUIRE(system.shutdown(kPatience));
  REQUIRE_FALSE(daemon.alive());
  REQUIRE(system.count() == 0);
}

namespace {
struct SpawnChild {};
class Parent : public troupe::Actor {
 public:
  std::string on(SpawnChild) {
    spawn<Idle>({.name = "child"});
    return "spawned";
  }
};
}  // namespace

TEST_CASE(
    "threading: an actor spawned by a daemon is not a daemon unless spawned as one, where "
    "Python's threads inherit the flag (test_threading.ThreadTests.test_daemon_param)") {
  troupe::System system({.workers = 2});
  auto p = system.spawn<Parent>({.name = "daemon-parent", .daemon = true});
  REQUIRE(p.ask(SpawnChild{}).get(kPatience) == "spawned");
  REQUIRE(row(system, "daemon-parent")->daemon);
  REQUIRE_FALSE(row(system, "child")->daemon);
  REQUIRE_FALSE(system.join(20ms));  // so join waits for the child
  p.stop();                          // which ends with its parent
  REQUIRE(system.join(kPatience));
  REQUIRE(eventually([&] { return system.count() == 0; }));  // the daemon parent, too
}

TEST_CASE(
    "threading: an actor whose constructor throws is not counted, listed nor waited "
    "for, and its name stays free (test_threading.ThreadTests.test_limbo_cleanup)") {
  troupe::System system({.workers = 2});
  std::size_t old = system.count();
  REQUIRE_THROWS_WITH(system.spawn<Unstartable>("limbo", true), "cannot start");
  REQUIRE(system.count() == old);
  REQUIRE_FALSE(row(system, "limbo").has_value());
  REQUIRE(system.join(kPatience));
  auto started = system.spawn<Unstartable>("limbo", false);  // the name was never taken
  REQUIRE(started.ask(Ping{}).get(kPatience) == 1);
  started.stop();
}

TEST_CASE(
    "threading: a live actor's name cannot be taken by another, where Python allows "
    "duplicate thread names (test_threading.ThreadTests.test_various_ops, names)") {
  troupe::System system({.workers = 2});
  auto first = system.spawn<Idle>({.name = "worker"});
  REQUIRE_THROWS_AS(system.spawn<Idle>({.name = "worker"}), std::invalid_argument);
  first.stop();
}

TEST_CASE(
    "threading: count and actors answer from inside an actor without blocking "
    "(test_threading.ThreadTests.test_various_ops, from actors)") {
  troupe::System system({.workers = 1});
  auto probe = system.spawn({.name = "probe"}, [&system](int) {
    std::size_t listed = system.actors().size();
    return std::to_string(system.count()) + "/" + std::to_string(listed);
  });
  auto other = system.spawn<Idle>({.name = "other"});
  REQUIRE(probe.ask(0).get(kPatience) == "2/2");
  other.stop();
  probe.stop();
}

TEST_CASE(
    "threading: join inside an actor's handler fails with WouldDeadlock, where Python "
    "raises RuntimeError (test_threading.ThreadingExceptionTests."
    "test_joining_current_thread)") {
  troupe::System system({.workers = 2});
  auto inside = system.spawn([&system](int) -> troupe::Task<std::string> {
    try {
      system.join();
    } catch (const troupe::WouldDeadlock&) {
      co_return "WouldDeadlock";
    }
    co_return "joined";
  });
  REQUIRE(inside.ask(0).get(kPatience) == "WouldDeadlock");
  inside.stop();
}

TEST_CASE(
    "threading: join inside a non-daemon dedicated-thread actor fails with WouldDeadlock "
    "instead of waiting for itself forever (test_threading.ThreadingExceptionTests."
    "test_joining_current_thread, dedicated thread)") {
  // On failure the actor stays blocked in join for good, so the system is left behind
  // (leaked) rather than destroyed under it: the test fails instead of hanging.
  auto* system = new troupe::System({.workers = 1});
  auto inside =
      system->spawn({.name = "joiner", .dedicated_thread = true}, [system](int) -> std::string {
        try {
          system->join();
        } catch (const troupe::WouldDeadlock&) {
          return "WouldDeadlock";
        }
        return "joined";
      });
  auto answer = inside.ask(0);
  bool answered = answer.wait_for(5s);
  if (!answered) FAIL("system.join() inside a dedicated-thread actor is still waiting after 5 s");
  REQUIRE(answer.get(0s) == "WouldDeadlock");
  inside.stop();
  delete system;
}
