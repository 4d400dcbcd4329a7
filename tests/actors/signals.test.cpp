// Tests of troupe::SignalHandler (actors/src/signals.cpp): a first SIGINT/SIGTERM sets the stop
// event and shuts the system down; a second one exits at once (checked in a child process);
// the previous handlers come back.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "../support.hpp"

#include <troupe/signals.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;
using support::kPatience;

namespace {

struct Ping {};
class Idle : public troupe::Actor {
 public:
  int on(Ping) { return 1; }
};

/// The handler currently installed for `signo`.
void (*handler_of(int signo))(int) {
  struct sigaction current {};
  sigaction(signo, nullptr, &current);
  return current.sa_handler;
}

constexpr const char* kChildTest =
    "signal child process: a second SIGINT during a stuck shutdown exits at once";

}  // namespace

TEST_CASE("a SIGINT sets the stop event and shuts the system down") {
  troupe::System system{{.workers = 2}};
  troupe::SignalHandler signals(system, {.deadline = 5s});
  auto idle = system.spawn<Idle>("idle");  // a non-daemon actor keeps join() waiting
  REQUIRE(idle.ask(Ping{}).get(kPatience) == 1);
  troupe::Event stop = signals.stop_event();
  REQUIRE_FALSE(stop.is_set());
  REQUIRE(signals.received() == 0);

  REQUIRE(raise(SIGINT) == 0);
  REQUIRE(signals.wait_shutdown(kPatience));
  REQUIRE(stop.is_set());
  REQUIRE(stop.wait(1s).get(kPatience));  // answered by the flag, after shutdown too
  REQUIRE(signals.received() == SIGINT);
  REQUIRE(system.count() == 0);
  REQUIRE_FALSE(idle.alive());
  REQUIRE(system.join(1000ms));
  REQUIRE_THROWS_AS(system.spawn<Idle>("late"), troupe::ShutdownError);
}

TEST_CASE("a SIGTERM sent to the process does the same") {
  troupe::System system{{.workers = 2}};
  troupe::SignalHandler signals(system);
  auto idle = system.spawn<Idle>("idle");
  REQUIRE(kill(getpid(), SIGTERM) == 0);
  REQUIRE(signals.wait_shutdown(kPatience));
  REQUIRE(signals.stop_event().is_set());
  REQUIRE(signals.received() == SIGTERM);
  REQUIRE(system.count() == 0);
}

TEST_CASE("without a signal nothing happens, and wait_shutdown times out") {
  troupe::System system{{.workers = 1}};
  troupe::SignalHandler signals(system);
  REQUIRE_FALSE(signals.wait_shutdown(20ms));
  REQUIRE_FALSE(signals.stop_event().is_set());
  auto idle = system.spawn<Idle>("idle");
  REQUIRE(idle.ask(Ping{}).get(kPatience) == 1);
}

TEST_CASE("the previous handlers come back when the SignalHandler is destroyed") {
  troupe::System system{{.workers = 1}};
  auto int_before = handler_of(SIGINT);
  auto term_before = handler_of(SIGTERM);
  {
    troupe::SignalHandler signals(system);
    REQUIRE(handler_of(SIGINT) != int_before);
    REQUIRE(handler_of(SIGTERM) != term_before);
  }
  REQUIRE(handler_of(SIGINT) == int_before);
  REQUIRE(handler_of(SIGTERM) == term_before);
  troupe::SignalHandler again(system);  // and a new one may be installed
}

TEST_CASE("only one SignalHandler exists at a time") {
  troupe::System system{{.workers = 1}};
  troupe::SignalHandler first(system);
  REQUIRE_THROWS_AS(troupe::SignalHandler(system), std::logic_error);
}

TEST_CASE("a second signal exits the process at once with status 130") {
  auto started = std::chrono::steady_clock::now();
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // a fresh copy of this test program runs only the hidden test below
    execl("/proc/self/exe", "/proc/self/exe", kChildTest, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  bool exited = eventually([&] { return waitpid(child, &status, WNOHANG) == child; }, 60s);
  if (!exited) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL("the child did not exit within 60 s");
  }
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 130);
  // The child's shutdown was stuck for 60 s; the second signal did not wait for it.
  REQUIRE(std::chrono::steady_clock::now() - started < 45s);
}

// Run by the test above in a child process; hidden from normal runs by the "[.]" tag.
TEST_CASE(kChildTest, "[.]") {
  struct Block {};
  troupe::System system{{.workers = 1}};
  // A dedicated-thread actor stuck in a handler keeps the shutdown waiting for its deadline.
  auto stuck = system.spawn(troupe::SpawnOptions{.name = "stuck", .dedicated_thread = true},
                            [](Block) { std::this_thread::sleep_for(60s); });
  stuck.tell(Block{});
  troupe::SignalHandler signals(system, {.deadline = 60s});
  raise(SIGINT);
  REQUIRE(eventually([&] { return signals.stop_event().is_set(); }));
  std::this_thread::sleep_for(50ms);  // the shutdown is under way (and stuck)
  raise(SIGINT);                      // exits here with status 130
  std::this_thread::sleep_for(10s);
  FAIL("the second SIGINT did not exit the process");
}
