// Tests of runtime/src/cell.cpp: the path from tell to a handler, and what an actor is.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {

struct Deposit {
  int amount;
};
struct Balance {};
struct Unknown {};

class Account : public troupe::Actor {
 public:
  void on(const Deposit& d) { balance_ += d.amount; }
  int on(const Balance&) const { return balance_; }

 private:
  int balance_ = 0;
};

}  // namespace

TEST_CASE("a told deposit is seen by a later ask") {
  troupe::System system({.workers = 2});
  auto acct = system.spawn<Account>("account");
  REQUIRE(acct.tell(Deposit{10}));
  REQUIRE(acct.tell(Deposit{32}));
  troupe::Future<int> balance = acct.ask(Balance{});
  REQUIRE(balance.get(5s) == 42);
}

TEST_CASE("tell compiles only for message types the actor handles") {
  STATIC_REQUIRE(troupe::Handles<Account, Deposit>);
  STATIC_REQUIRE(troupe::Handles<Account, const Deposit&>);
  STATIC_REQUIRE_FALSE(troupe::Handles<Account, Unknown>);
  STATIC_REQUIRE_FALSE(troupe::Handles<troupe::Actor, Deposit>);
  STATIC_REQUIRE(std::is_same_v<troupe::AskResult<Account, Balance>, int>);
  STATIC_REQUIRE(std::is_same_v<troupe::AskResult<Account, Deposit>, void>);
}

TEST_CASE("tell, ask and name on an empty Ref throw EmptyHandle, and stop does nothing") {
  troupe::Ref<Account> empty;
  REQUIRE_FALSE(empty);
  REQUIRE_FALSE(empty.alive());
  REQUIRE_THROWS_AS(empty.tell(Deposit{1}), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.tell(Deposit{1}, troupe::urgent), troupe::EmptyHandle);
  REQUIRE_THROWS_AS(empty.ask(Balance{}), troupe::EmptyHandle);
  REQUIRE_THROWS_WITH(empty.name(), Catch::Contains("Ref::name") && Catch::Contains("empty"));
  empty.stop();

  troupe::System system({.deterministic = true});
  auto acct = system.spawn<Account>("account");
  troupe::Ref<Account> moved = std::move(acct);
  REQUIRE_THROWS_AS(acct.tell(Deposit{1}), std::logic_error);  // a moved-from Ref is empty
  REQUIRE(moved.tell(Deposit{1}));
}

TEST_CASE("messages from each sender arrive in the order they were sent, none lost") {
  constexpr int kSenders = 4;
  constexpr int kPerSender = 100'000;
  struct Seq {
    int sender;
    int n;
  };
  struct Report {};
  struct Checker : troupe::Actor {
    std::vector<int> last = std::vector<int>(kSenders, -1);
    long received = 0;
    long out_of_order = 0;
    void on(const Seq& s) {
      if (s.n != last[s.sender] + 1) ++out_of_order;
      last[s.sender] = s.n;
      ++received;
    }
    std::pair<long, long> on(Report) const { return {received, out_of_order}; }
  };
  troupe::System system({.workers = 2});
  auto checker = system.spawn<Checker>("checker");
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      for (int i = 0; i < kPerSender; ++i) checker.tell(Seq{s, i});
    });
  }
  for (auto& t : senders) t.join();
  auto [received, out_of_order] = checker.ask(Report{}).get(30s);
  REQUIRE(received == long{kSenders} * kPerSender);
  REQUIRE(out_of_order == 0);
  REQUIRE(system.stats().dead_letters == 0);
}

TEST_CASE("an actor never runs on two threads at once, even under many senders") {
  struct Poke {};
  struct Count {};
  struct Exclusive : troupe::Actor {
    std::atomic<int>* inside;
    std::atomic<int>* overlaps;
    long count = 0;
    Exclusive(std::atomic<int>* i, std::atomic<int>* o) : inside(i), overlaps(o) {}
    void on(Poke) {
      if (inside->fetch_add(1) != 0) overlaps->fetch_add(1);
      ++count;  // a plain counter: TSan flags it if two threads ever get here together
      inside->fetch_sub(1);
    }
    long on(Count) const { return count; }
  };
  std::atomic<int> overlaps{0};
  // A small batch makes the actor change workers often.
  troupe::System system({.workers = 2, .batch = 4});
  std::atomic<int> solo_inside{0};
  auto solo = system.spawn<Exclusive>("solo", &solo_inside, &overlaps);
  std::vector<std::thread> senders;
  for (int s = 0; s < 4; ++s) {
    senders.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) solo.tell(Poke{});
    });
  }
  for (auto& t : senders) t.join();
  REQUIRE(solo.ask(Count{}).get(30s) == 80'000);
  REQUIRE(overlaps.load() == 0);
}

TEST_CASE("a function actor handles what its lambda accepts and answers with its result") {
  troupe::System system({.workers = 2});
  auto doubler = system.spawn([](int n) { return n * 2; });
  REQUIRE(doubler.ask(21).get(5s) == 42);
  auto both = system.spawn("both", troupe::Overload{[](int n) { return n + 1; },
                                                    [](const std::string& s) { return s.size(); }});
  REQUIRE(both.ask(1).get(5s) == 2);
  REQUIRE(both.ask(std::string("four")).get(5s) == 4u);
  STATIC_REQUIRE_FALSE(troupe::Handles<decltype(doubler)::element_type, std::string>);
}

TEST_CASE("an urgent message overtakes the normal messages already queued") {
  struct Slow {};
  struct Note {
    int n;
  };
  struct Log {};
  struct Recorder : troupe::Actor {
    std::vector<int> seen;
    void on(Slow) { std::this_thread::sleep_for(50ms); }
    void on(Note n) { seen.push_back(n.n); }
    std::vector<int> on(Log) const { return seen; }
  };
  troupe::System system({.workers = 1});
  auto rec = system.spawn<Recorder>("recorder");
  rec.tell(Slow{});  // keeps the actor busy while the rest queue up
  for (int i = 1; i <= 3; ++i) rec.tell(Note{i});
  rec.tell(Note{99}, troupe::urgent);
  auto seen = rec.ask(Log{}).get(5s);
  REQUIRE(seen == std::vector<int>{99, 1, 2, 3});
}

TEST_CASE("an actor constructed outside spawn is refused with a clear error") {
  REQUIRE_THROWS_AS(Account{}, std::logic_error);
}

TEST_CASE("an actor may send to itself through a typed self reference") {
  struct Countdown {
    int n;
  };
  struct Done {};
  struct Counter : troupe::Actor {
    troupe::Promise<int> done;
    int steps = 0;
    void on(Countdown c) {
      ++steps;
      if (c.n == 0) {
        done.set_value(steps);
        return;
      }
      self<Counter>().tell(Countdown{c.n - 1});
    }
    troupe::Future<int> on(Done) { return done.future(); }
  };
  troupe::System system({.workers = 2});
  auto counter = system.spawn<Counter>("counter");
  auto finished = counter.ask(Done{}).get(5s);
  counter.tell(Countdown{1000});
  REQUIRE(finished.get(10s) == 1001);
}

namespace {
struct Hello {};
struct Greeted {};
/// Sends itself a message from its constructor, before spawn has registered it.
struct EagerGreeter : troupe::Actor {
  explicit EagerGreeter(std::atomic<int>* runs) : runs_(runs) { self<EagerGreeter>().tell(Hello{}); }
  void on(Hello) {
    ++*runs_;
    seen_name_ = std::string(name());
  }
  std::string on(Greeted) const { return seen_name_; }
  std::atomic<int>* runs_;
  std::string seen_name_;
};
}  // namespace

TEST_CASE("a message an actor sends itself while being constructed runs once spawn has "
          "registered it") {
  troupe::System system({.workers = 2});
  std::atomic<int> runs{0};
  auto plain = system.spawn<EagerGreeter>("plain", &runs);
  REQUIRE(plain.ask(Greeted{}).get(5s) == "plain");  // the name is set by then
  auto bounded = system.spawn<EagerGreeter>(
      troupe::SpawnOptions{.name = "bounded", .mailbox_capacity = 4}, &runs);
  REQUIRE(bounded.ask(Greeted{}).get(5s) == "bounded");
  auto dedicated = system.spawn<EagerGreeter>(
      troupe::SpawnOptions{.name = "dedicated", .dedicated_thread = true}, &runs);
  REQUIRE(dedicated.ask(Greeted{}).get(5s) == "dedicated");
  REQUIRE(runs.load() == 3);
}

namespace {
class Introduced;
struct Introduce {
  troupe::Ref<Introduced> who;
};
struct Reply {};
struct Count {};
/// Answers an introduction with a burst of replies, at once, from its own worker.
struct Replier : troupe::Actor {
  void on(const Introduce& i);
};
/// Hands self() to the replier from its constructor, then dawdles, so that the replies
/// arrive while spawn is still configuring the cell (here: making it bounded).
class Introduced : public troupe::Actor {
 public:
  explicit Introduced(troupe::Ref<Replier> replier) {
    replier.tell(Introduce{self<Introduced>()});
    auto until = std::chrono::steady_clock::now() + 200us;
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  void on(Reply) { ++replies_; }
  int on(Count) const { return replies_; }

 private:
  int replies_ = 0;
};
void Replier::on(const Introduce& i) {
  for (int n = 0; n < 50; ++n) i.who.tell(Reply{});
}
}  // namespace

TEST_CASE("replies that reach an actor while spawn still configures it all arrive "
          "(plain and bounded mailboxes)") {
  troupe::System system({.workers = 2});
  auto replier = system.spawn<Replier>();
  for (int round = 0; round < 40; ++round) {
    troupe::SpawnOptions options;
    if (round % 2 == 1) {
      options.mailbox_capacity = 64;
      options.overflow = troupe::Overflow::block;  // a worker's send that finds it full fails
    }
    auto actor = system.spawn<Introduced>(options, replier);
    REQUIRE(support::eventually([&] { return actor.ask(Count{}).get(5s) == 50; }));
  }
}

TEST_CASE("a spawn refused for a taken name never runs the actor, and what its constructor "
          "sent becomes a dead letter") {
  troupe::System system({.workers = 2, .log_dead_letters = false});
  std::atomic<int> runs{0};
  auto first = system.spawn<EagerGreeter>("only", &runs);
  REQUIRE(first.ask(Greeted{}).get(5s) == "only");
  auto dead_before = system.stats().dead_letters;
  REQUIRE_THROWS_AS(system.spawn<EagerGreeter>("only", &runs), std::invalid_argument);
  REQUIRE(system.stats().dead_letters == dead_before + 1);
  std::this_thread::sleep_for(20ms);
  REQUIRE(runs.load() == 1);
  REQUIRE(system.count() == 1);
}

// -- lifecycle hooks ---------------------------------------------------------------------------

namespace {
/// What the hooks and handlers did, in order, across threads.
struct Journal {
  std::mutex mutex;
  std::vector<std::string> lines;
  void add(std::string line) {
    std::lock_guard lock(mutex);
    lines.push_back(std::move(line));
  }
  std::vector<std::string> read() {
    std::lock_guard lock(mutex);
    return lines;
  }
};
struct Note {
  std::string text;
};
struct Boom {};
struct WatchIt {
  troupe::Ref<troupe::Actor> who;
};
/// Sends itself a note from its constructor; journals every hook and message.
class Hooked : public troupe::Actor {
 public:
  Hooked(Journal* journal, bool throw_on_stop)
      : journal_(journal), throw_on_stop_(throw_on_stop), generation_(++generations_) {
    self<Hooked>().tell(Note{"from the constructor"});
  }
  void on_start() { journal_->add("start " + std::to_string(generation_)); }
  void on_stop() {
    journal_->add("stop " + std::to_string(generation_));
    if (throw_on_stop_) throw std::runtime_error("on_stop failed");
  }
  void on_restart(const std::exception_ptr& reason) {
    journal_->add("restart " + std::to_string(generation_) + " after " +
                  troupe::describe(reason));
  }
  void on(const Note& n) { journal_->add("note " + n.text); }
  void on(Boom) { throw std::runtime_error("boom"); }

 private:
  Journal* journal_;
  bool throw_on_stop_;
  int generation_;
  static inline std::atomic<int> generations_{0};
};
/// Has only on_start: it starts its own work without any message from outside.
class SelfStarter : public troupe::Actor {
 public:
  explicit SelfStarter(std::atomic<int>* ticks) : ticks_(ticks) {}
  void on_start() { self<SelfStarter>().tell(Note{"go"}); }
  void on(const Note&) { ticks_->fetch_add(1); }

 private:
  std::atomic<int>* ticks_;
};
class Observer : public troupe::Actor {
 public:
  explicit Observer(Journal* journal) : journal_(journal) {}
  void on(const WatchIt& w) { watch(w.who); }
  void on(const troupe::Down& d) { journal_->add("down " + d.reason_text()); }

 private:
  Journal* journal_;
};
}  // namespace

TEST_CASE("on_start runs in the first turn, before any message, even one the constructor "
          "sent itself") {
  Journal journal;  // outlives the system, whose actors write to it until they end
  troupe::System system({.workers = 2});
  auto hooked = system.spawn<Hooked>("hooked", &journal, false);
  hooked.tell(Note{"from outside"});
  REQUIRE(support::eventually([&] { return journal.read().size() == 3; }));
  auto lines = journal.read();
  REQUIRE(lines[0].rfind("start ", 0) == 0);
  REQUIRE(lines[1] == "note from the constructor");
  REQUIRE(lines[2] == "note from outside");
}

TEST_CASE("on_start runs without any message from outside, and may tell the actor itself") {
  std::atomic<int> ticks{0};  // outlives the system
  troupe::System system({.workers = 1});
  auto starter = system.spawn<SelfStarter>("starter", &ticks);
  REQUIRE(support::eventually([&] { return ticks.load() == 1; }));
}

TEST_CASE("on_stop runs when the actor stops and when it fails, before its object goes") {
  Journal journal;  // outlives the system, whose actors write to it until they end
  troupe::System system({.workers = 2});
  auto stopped = system.spawn<Hooked>("stopped", &journal, false);
  auto failed = system.spawn<Hooked>("failed", &journal, false);
  stopped.stop();
  failed.tell(Boom{});
  REQUIRE(support::eventually([&] { return !stopped.alive() && !failed.alive(); }));
  auto lines = journal.read();
  REQUIRE(std::count_if(lines.begin(), lines.end(),
                        [](const std::string& l) { return l.rfind("stop ", 0) == 0; }) == 2);
}

TEST_CASE("an exception from on_stop makes the end a failure that watchers hear of") {
  Journal journal;  // outlives the system, whose actors write to it until they end
  troupe::System system({.workers = 2, .log_failures = false});
  auto observer = system.spawn<Observer>("observer", &journal);
  auto hooked = system.spawn<Hooked>("hooked", &journal, true);
  observer.tell(WatchIt{hooked});
  REQUIRE(support::eventually([&] { return journal.read().size() >= 2; }));  // start, note
  hooked.stop();
  REQUIRE(support::eventually([&] {
    auto lines = journal.read();
    return std::any_of(lines.begin(), lines.end(),
                       [](const std::string& l) { return l.rfind("down ", 0) == 0; });
  }));
  auto lines = journal.read();
  auto down = std::find_if(lines.begin(), lines.end(),
                           [](const std::string& l) { return l.rfind("down ", 0) == 0; });
  REQUIRE(down->find("on_stop failed") != std::string::npos);
  REQUIRE(system.stats().failures == 1);
}

TEST_CASE("a restart calls on_stop on the failed object, then on_restart and on_start on the "
          "fresh one") {
  Journal journal;  // outlives the system, whose actors write to it until they end
  troupe::System system({.workers = 2, .log_failures = false});
  auto hooked = system.spawn<Hooked>(
      troupe::SpawnOptions{.name = "phoenix", .on_failure = troupe::OnFailure::restart}, &journal,
      false);
  REQUIRE(support::eventually([&] { return journal.read().size() == 2; }));  // start, note
  hooked.tell(Boom{});
  REQUIRE(support::eventually([&] { return journal.read().size() >= 6; }));
  auto lines = journal.read();
  REQUIRE(lines[2].rfind("stop ", 0) == 0);
  REQUIRE(lines[3].rfind("restart ", 0) == 0);
  REQUIRE(lines[3].find("boom") != std::string::npos);
  REQUIRE(lines[4].rfind("start ", 0) == 0);
  std::string fresh = lines[4].substr(6);  // "start N": the fresh object's generation
  REQUIRE(lines[3].rfind("restart " + fresh + " after", 0) == 0);
  REQUIRE(lines[2] != "stop " + fresh);  // the old one stopped
  REQUIRE(lines[5] == "note from the constructor");  // the fresh object's own note
}
