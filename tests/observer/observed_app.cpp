// observed_app - a small busy troupe program for the observer's tests. It links only the
// core and includes nothing of the observer: run with TROUPE_OBSERVE=127.0.0.1:0 it is
// watched all the same (runtime/src/observe.cpp loads the library).
//
// What it runs, so that every panel of the page has something to show: a producer feeding
// four workers, a slow sink whose mailbox keeps growing, a supervisor with three children,
// a flaky actor restarted after each failure, a dead letter now and then, and the main
// thread asking a ledger every few milliseconds (the ask-latency histogram).
//
// Usage: observed_app [seconds] [idle]   (default 30 s, then it shuts down and exits 0;
//        `idle` more actors that only wait, e.g. 100000 to see the page at that size)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

struct Job { int n; };
struct Tick {};
struct Total {};

class Ledger : public troupe::Actor {
 public:
  long on(const Total&) { return ++asked_; }

 private:
  long asked_ = 0;
};

class Worker : public troupe::Actor {
 public:
  void on(const Job& j) { sum_ += j.n; }

 private:
  long sum_ = 0;
};

class SlowSink : public troupe::Actor {  // a dedicated thread that falls behind
 public:
  void on(const Job&) { std::this_thread::sleep_for(15ms); }
};

class Flaky : public troupe::Actor {
 public:
  void on(const Job& j) {
    if (j.n % 40 == 0) throw std::runtime_error("flaky: job " + std::to_string(j.n));
  }
};

class Child : public troupe::Actor {
 public:
  void on(const Job&) {}
};

class Supervisor : public troupe::Actor {
 public:
  void on_start() {
    for (int i = 1; i <= 3; ++i) {
      children_.push_back(spawn<Child>({.name = "supervisor/child-" + std::to_string(i)}));
    }
  }
  void on(const Job& j) {
    for (auto& c : children_) c.tell(j);
  }

 private:
  std::vector<troupe::Ref<Child>> children_;
};

class Producer : public troupe::Actor {
 public:
  Producer(std::vector<troupe::Ref<Worker>> workers, troupe::Ref<SlowSink> sink,
           troupe::Ref<Flaky> flaky, troupe::Ref<Supervisor> supervisor)
      : workers_(std::move(workers)), sink_(sink), flaky_(flaky), supervisor_(supervisor) {}
  void on_start() { timer_ = every(10ms, self<Producer>(), Tick{}); }
  void on(Tick) {
    ++round_;
    for (auto& w : workers_) {
      for (int i = 0; i < 50; ++i) w.tell(Job{round_ * 50 + i});
    }
    sink_.tell(Job{round_});
    sink_.tell(Job{round_});
    flaky_.tell(Job{round_});
    supervisor_.tell(Job{round_});
    if (round_ % 25 == 0) {  // a dead letter: a message to an actor that has ended
      auto gone = system().spawn([](const Job&) {});
      gone.stop();
      gone.tell(Job{round_});
    }
  }

 private:
  std::vector<troupe::Ref<Worker>> workers_;
  troupe::Ref<SlowSink> sink_;
  troupe::Ref<Flaky> flaky_;
  troupe::Ref<Supervisor> supervisor_;
  troupe::Timer timer_;
  int round_ = 0;
};

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 30;
  troupe::System system({.workers = 2, .log_failures = false});
  std::vector<troupe::Ref<Worker>> workers;
  for (int i = 1; i <= 4; ++i) workers.push_back(system.spawn<Worker>("worker-" + std::to_string(i)));
  auto sink = system.spawn<SlowSink>({.name = "slow-sink", .dedicated_thread = true});
  auto flaky = system.spawn<Flaky>({.name = "flaky", .on_failure = troupe::OnFailure::restart,
                                    .max_restarts = 1000000});
  auto supervisor = system.spawn<Supervisor>("supervisor");
  auto producer = system.spawn<Producer>("producer", workers, sink, flaky, supervisor);
  std::vector<troupe::Ref<Child>> idle;
  for (int i = 0, n = argc > 2 ? std::atoi(argv[2]) : 0; i < n; ++i) {
    idle.push_back(system.spawn<Child>("idle-" + std::to_string(i)));
  }
  auto ledger = system.spawn<Ledger>("ledger");
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    ledger.ask(Total{}).get(5s);
    std::this_thread::sleep_for(5ms);
  }
  system.shutdown(1s, troupe::StopMode::drop);
  return 0;
}
