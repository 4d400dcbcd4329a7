// Tests of supervision and bounded mailboxes (cell.cpp: handle_failure, restart,
// enqueue_bounded), mostly on a manual clock so restart windows are exact.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;

namespace {

struct Add {
  int n;
};
struct Fail {};
struct Total {};
struct Generation {};

std::atomic<int> generations{0};

class Counter : public troupe::Actor {
 public:
  explicit Counter(int start) : total_(start), generation_(++generations) {}
  void on(Add a) { total_ += a.n; }
  void on(Fail) { throw std::runtime_error("asked to fail"); }
  int on(Total) const { return total_; }
  int on(Generation) const { return generation_; }

 private:
  int total_;
  int generation_;
};

struct Downs {};
struct WatchIt {
  troupe::Ref<troupe::Actor> who;
};
class Watcher : public troupe::Actor {
 public:
  void on(const WatchIt& w) { watch(w.who); }
  void on(const troupe::Down& d) { downs_.push_back(d.reason_text()); }
  std::vector<std::string> on(Downs) const { return downs_; }

 private:
  std::vector<std::string> downs_;
};

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

}  // namespace

TEST_CASE("by default a failure stops the actor") {
  troupe::System system({.workers = 2});
  auto c = system.spawn<Counter>("c", 0);
  c.tell(Fail{});
  REQUIRE(eventually([&] { return !c.alive(); }));
}

TEST_CASE("restart rebuilds the actor from its spawn arguments and keeps the mailbox") {
  troupe::System system({.workers = 1});
  auto c = system.spawn<Counter>({.name = "c", .on_failure = troupe::OnFailure::restart}, 100);
  c.tell(Add{5});
  int first = c.ask(Generation{}).get(5s);
  c.tell(Fail{});
  c.tell(Add{1});  // queued behind the failure: handled by the fresh actor
  REQUIRE(c.ask(Total{}).get(5s) == 101);
  REQUIRE(c.ask(Generation{}).get(5s) == first + 1);
  REQUIRE(c.alive());
  REQUIRE(system.actors().at(0).restarts == 1);
}

TEST_CASE("an ask that fails under restart carries the exception, later asks are answered") {
  troupe::System system({.workers = 2});
  auto c = system.spawn<Counter>({.on_failure = troupe::OnFailure::restart}, 0);
  struct Boom {};
  auto f = system.spawn({.on_failure = troupe::OnFailure::restart},
                        [n = 0](int x) mutable -> int {
                          if (x < 0) throw std::invalid_argument("negative");
                          return n += x;
                        });
  REQUIRE(f.ask(2).get(5s) == 2);
  REQUIRE_THROWS_AS(f.ask(-1).get(5s), std::invalid_argument);
  REQUIRE(f.ask(3).get(5s) == 3);  // fresh state: the lambda was copied anew
  (void)c;
}

TEST_CASE("restarting more often than the intensity allows stops the actor and tells watchers") {
  auto clock = std::make_shared<troupe::ManualClock>();
  troupe::System system({.workers = 2, .clock = clock});
  auto c = system.spawn<Counter>({.name = "c",
                                  .on_failure = troupe::OnFailure::restart,
                                  .max_restarts = 2,
                                  .restart_window = 1000ms},
                                 0);
  auto w = system.spawn<Watcher>("w");
  w.tell(WatchIt{c});
  REQUIRE(w.ask(Downs{}).get(5s).empty());
  c.tell(Fail{});
  c.tell(Fail{});
  REQUIRE(c.ask(Total{}).get(5s) == 0);  // two restarts: still alive
  clock->advance(1500ms);                // the window slides past them
  c.tell(Fail{});
  c.tell(Fail{});
  REQUIRE(c.ask(Total{}).get(5s) == 0);  // two more within a fresh window
  c.tell(Fail{});                        // the third within the window: stop
  REQUIRE(eventually([&] { return !c.alive(); }));
  REQUIRE(eventually([&] { return w.ask(Downs{}).get(5s).size() == 1; }));
  REQUIRE_THAT(w.ask(Downs{}).get(5s)[0], Catch::Contains("asked to fail"));
}

TEST_CASE("a restart drops the old actor's timers") {
  struct Arm {};
  struct Tick {};
  struct Ticks {};
  struct Timed : troupe::Actor {
    int ticks = 0;
    void on(Arm) { every(10ms, self<Timed>(), Tick{}); }
    void on(Tick) { ++ticks; }
    void on(Fail) { throw std::runtime_error("restart me"); }
    int on(Ticks) const { return ticks; }
  };
  auto clock = std::make_shared<troupe::ManualClock>();
  troupe::System system({.workers = 2, .clock = clock});
  auto t = system.spawn<Timed>({.on_failure = troupe::OnFailure::restart});
  t.tell(Arm{});
  REQUIRE(t.ask(Ticks{}).get(5s) == 0);
  clock->advance(10ms);
  REQUIRE(t.ask(Ticks{}).get(5s) == 1);
  t.tell(Fail{});
  REQUIRE(t.ask(Ticks{}).get(5s) == 0);  // fresh state
  clock->advance(100ms);
  REQUIRE(t.ask(Ticks{}).get(5s) == 0);  // and the old timer is gone
}

TEST_CASE("resume skips the failed message and keeps the state") {
  troupe::System system({.workers = 2});
  auto c = system.spawn<Counter>({.on_failure = troupe::OnFailure::resume}, 10);
  c.tell(Add{1});
  c.tell(Fail{});
  c.tell(Add{1});
  REQUIRE(c.ask(Total{}).get(5s) == 12);
  REQUIRE(c.alive());
}

namespace {
/// Sends this process's stderr to a temporary file while it lives; `text()` reads it.
class CapturedStderr {
 public:
  CapturedStderr() : file_(std::tmpfile()), saved_(dup(STDERR_FILENO)) {
    std::fflush(stderr);
    dup2(fileno(file_), STDERR_FILENO);
  }
  ~CapturedStderr() {
    restore();
    std::fclose(file_);
  }
  std::string text() {
    restore();
    std::rewind(file_);
    std::string out;
    for (int c = std::fgetc(file_); c != EOF; c = std::fgetc(file_)) out += static_cast<char>(c);
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_;
};

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("failures under restart and resume are printed (rate-limited) and counted") {
  CapturedStderr captured;
  {  // each system has its own rate limit
    troupe::System system({.workers = 2});
    auto restarted = system.spawn<Counter>(
        {.name = "phoenix", .on_failure = troupe::OnFailure::restart, .max_restarts = 100}, 0);
    for (int i = 0; i < 10; ++i) restarted.tell(Fail{});
    REQUIRE(restarted.ask(Total{}).get(5s) == 0);
    REQUIRE(system.stats().failures == 10);
    REQUIRE(system.stats().restarts == 10);
  }
  {
    troupe::System system({.workers = 2});
    auto resumed = system.spawn<Counter>(
        {.name = "stoic", .on_failure = troupe::OnFailure::resume}, 0);
    for (int i = 0; i < 10; ++i) resumed.tell(Fail{});
    REQUIRE(resumed.ask(Total{}).get(5s) == 0);
    REQUIRE(system.stats().failures == 10);
    REQUIRE(system.stats().restarts == 0);
  }
  std::string text = captured.text();
  CAPTURE(text);
  std::size_t restart_lines = count_of(text, "actor 'phoenix' failed and is restarted");
  std::size_t resume_lines = count_of(text, "actor 'stoic' failed; the message was skipped");
  REQUIRE(restart_lines >= 1);
  REQUIRE(resume_lines >= 1);
  REQUIRE(restart_lines <= 10);  // five a second; each system lives under two seconds
  REQUIRE(resume_lines <= 10);
  REQUIRE(count_of(text, "asked to fail") == restart_lines + resume_lines);
}

TEST_CASE("log_failures = false keeps failures off stderr but still counts them") {
  CapturedStderr captured;
  {
    troupe::System system({.workers = 2, .log_failures = false});
    auto resumed = system.spawn<Counter>({.on_failure = troupe::OnFailure::resume}, 0);
    auto stopped = system.spawn<Counter>("stopped", 0);
    resumed.tell(Fail{});
    stopped.tell(Fail{});
    REQUIRE(resumed.ask(Total{}).get(5s) == 0);
    REQUIRE(eventually([&] { return !stopped.alive(); }));
    REQUIRE(system.stats().failures == 2);
  }
  REQUIRE(captured.text().find("asked to fail") == std::string::npos);
}

TEST_CASE("escalate fails the parent with the child's reason") {
  struct MakeChild {};
  struct Parent : troupe::Actor {
    troupe::Ref<Counter> on(MakeChild) {
      return spawn<Counter>({.on_failure = troupe::OnFailure::escalate}, 0);
    }
  };
  troupe::System system({.workers = 2});
  auto parent = system.spawn<Parent>("parent");
  auto w = system.spawn<Watcher>("w");
  w.tell(WatchIt{parent});
  auto child = parent.ask(MakeChild{}).get(5s);
  REQUIRE(w.ask(Downs{}).get(5s).empty());
  child.tell(Fail{});
  REQUIRE(eventually([&] { return !parent.alive() && !child.alive(); }));
  REQUIRE(eventually([&] { return w.ask(Downs{}).get(5s).size() == 1; }));
  REQUIRE_THAT(w.ask(Downs{}).get(5s)[0], Catch::Contains("asked to fail"));
}

TEST_CASE("restart is refused at spawn when the arguments cannot be copied") {
  struct Owns : troupe::Actor {
    explicit Owns(std::unique_ptr<int> p) : p_(std::move(p)) {}
    void on(int) {}
    std::unique_ptr<int> p_;
  };
  troupe::System system({.workers = 1});
  REQUIRE_THROWS_AS(system.spawn<Owns>({.on_failure = troupe::OnFailure::restart},
                                       std::make_unique<int>(1)),
                    std::invalid_argument);
}

// -- bounded mailboxes -----------------------------------------------------------------------

namespace {
struct Hold {
  troupe::Future<void> until;
  troupe::Promise<void>* inside;
};
struct Item {
  int n;
};
struct Seen {};
class Sink : public troupe::Actor {
 public:
  void on(const Hold& h) {
    h.inside->set_value();
    while (!h.until.ready()) std::this_thread::sleep_for(1ms);
  }
  int on(Item i) {
    seen_.push_back(i.n);
    return i.n;
  }
  std::vector<int> on(Seen) const { return seen_; }

 private:
  std::vector<int> seen_;
};

// A sink whose only worker is busy in `Hold`, so everything else queues.
struct HeldSink {
  troupe::System system{{.workers = 1}};
  troupe::Promise<void> open;
  troupe::Ref<Sink> sink;
  explicit HeldSink(troupe::Overflow overflow) {
    sink = system.spawn<Sink>({.name = "sink", .mailbox_capacity = 3, .overflow = overflow});
    troupe::Promise<void> inside;
    sink.tell(Hold{open.future(), &inside});
    inside.future().get(5s);
  }
};
}  // namespace

TEST_CASE("a full mailbox with reject refuses tells and fails asks with MailboxFull") {
  HeldSink h(troupe::Overflow::reject);
  for (int i = 0; i < 3; ++i) REQUIRE(h.sink.tell(Item{i}));
  REQUIRE_FALSE(h.sink.tell(Item{3}));
  auto refused = h.sink.ask(Item{4});
  REQUIRE_THROWS_AS(refused.get(5s), troupe::MailboxFull);
  REQUIRE_THROWS_WITH(refused.get(5s), Catch::Contains("'sink'") && Catch::Contains("capacity 3"));
  REQUIRE(h.sink.tell(Item{5}, troupe::urgent));  // urgent messages are never refused
  h.open.set_value();
  REQUIRE(eventually([&] { return troupe::detail::Access::cell(h.sink)->mailbox_depth() == 0; }));
  REQUIRE(h.sink.ask(Seen{}).get(5s) == std::vector<int>{5, 0, 1, 2});
  REQUIRE(h.system.stats().dead_letters == 0);
}

TEST_CASE("a full mailbox with drop_newest drops the new message as a dead letter") {
  HeldSink h(troupe::Overflow::drop_newest);
  for (int i = 0; i < 5; ++i) h.sink.tell(Item{i});
  h.open.set_value();
  // Seen itself may be dropped while the mailbox is full, so wait for room first.
  REQUIRE(eventually([&] { return troupe::detail::Access::cell(h.sink)->mailbox_depth() == 0; }));
  REQUIRE(h.sink.ask(Seen{}).get(5s) == std::vector<int>{0, 1, 2});
  REQUIRE(h.system.stats().dead_letters == 2);
}

TEST_CASE("a full mailbox with drop_oldest keeps the newest messages") {
  HeldSink h(troupe::Overflow::drop_oldest);
  std::vector<troupe::Future<int>> asks;
  for (int i = 0; i < 6; ++i) asks.push_back(h.sink.ask(Item{i}));
  h.open.set_value();
  REQUIRE(asks[5].get(5s) == 5);
  REQUIRE_THROWS_AS(asks[0].get(5s), troupe::MailboxFull);
  REQUIRE(h.sink.ask(Seen{}).get(5s) == std::vector<int>{3, 4, 5});
  REQUIRE(h.system.stats().dead_letters == 3);
}

TEST_CASE("a full mailbox with block makes a plain thread wait for room") {
  HeldSink h(troupe::Overflow::block);
  for (int i = 0; i < 3; ++i) h.sink.tell(Item{i});
  std::atomic<bool> sent{false};
  std::thread producer([&] {
    h.sink.tell(Item{3});  // blocks until the sink takes one
    sent = true;
  });
  std::this_thread::sleep_for(50ms);
  CHECK_FALSE(sent.load());
  h.open.set_value();
  producer.join();
  REQUIRE(sent.load());
  REQUIRE(h.sink.ask(Seen{}).get(5s) == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("a flood of messages into a bounded mailbox keeps resident memory flat") {
#if defined(TROUPE_SANITIZED)
  constexpr long kMessages = 1'000'000;
#else
  constexpr long kMessages = 10'000'000;
#endif
  troupe::System system({.workers = 1});
  std::atomic<long> handled{0};
  auto slow = system.spawn({.name = "slow", .mailbox_capacity = 1000,
                            .overflow = troupe::Overflow::drop_newest},
                           [&](long) { handled.fetch_add(1, std::memory_order_relaxed); });
  long before = resident_bytes();
  long accepted = 0;
  for (long i = 0; i < kMessages; ++i) accepted += slow.tell(i) ? 1 : 0;
  long after = resident_bytes();
  INFO("resident growth " << (after - before) << " bytes over " << kMessages << " messages");
#if defined(__SANITIZE_ADDRESS__)
  // ASan parks freed memory in a quarantine (256 MB by default): resident size says nothing
  // about the mailbox here. The normal build holds the bound.
  WARN("ASan build: resident growth " << (after - before) << " bytes, not checked");
#else
  REQUIRE(after - before < 16L * 1024 * 1024);
#endif
  REQUIRE(eventually([&] { return handled.load() == accepted; }));
  REQUIRE(static_cast<long>(system.stats().dead_letters) == kMessages - accepted);
}

// -- refusing one request ------------------------------------------------------------------------

namespace {
struct Withdraw {
  int amount;
};
struct Transfer {
  int amount;
};
class Bank : public troupe::Actor {
 public:
  int on(Withdraw w) {
    if (w.amount > balance_) throw troupe::Refused("insufficient funds");
    return balance_ -= w.amount;
  }
  troupe::Task<int> on(Transfer t) {  // a coroutine refuses the same way
    co_await system().submit([] { return 0; });
    if (t.amount > balance_) throw troupe::Refused("insufficient funds for the transfer");
    co_return balance_ -= t.amount;
  }
  int on(Total) const { return balance_; }

 private:
  int balance_ = 100;
};
}  // namespace

TEST_CASE("a handler that throws Refused fails only that ask; the actor keeps its state and "
          "no supervision happens") {
  troupe::System system({.workers = 2});
  auto bank = system.spawn<Bank>("bank");
  REQUIRE(bank.ask(Withdraw{30}).get(5s) == 70);
  REQUIRE(support::outcome(bank.ask(Withdraw{500})) == "Refused");
  REQUIRE(support::outcome(bank.ask(Transfer{500})) == "Refused");
  REQUIRE(bank.ask(Transfer{20}).get(5s) == 50);
  REQUIRE(bank.ask(Total{}).get(5s) == 50);
  REQUIRE(bank.alive());
  REQUIRE(system.stats().refusals == 2);
  REQUIRE(system.stats().failures == 0);
  REQUIRE(system.stats().restarts == 0);
}
