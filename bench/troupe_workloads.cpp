// bench/troupe_workloads.cpp - the suite on troupe, written as a troupe user would.
//
// Each run builds a System with the requested worker count, times the work from the first
// message to the answer a plain thread waits for, checks the result, and ends the actors.
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "workloads.hpp"
#include <troupe/troupe.hpp>

namespace bench {
namespace {

troupe::SystemOptions options(const Config& config) {
  return {.workers = config.workers, .batch = config.batch};
}

/// The answer of `future`; a run that does not finish within the deadline is a wrong result.
template <class R>
R await(const troupe::Future<R>& future, const Config& config) {
  try {
    return future.get(config.deadline());
  } catch (const troupe::TimeoutError&) {
    wrong_result("the run did not finish before the deadline");
  }
}

// -- pingpong: two actors bounce a ball ----------------------------------------------------

class PingActor;

struct Ball {
  std::uint64_t n;
};
struct Partner {
  troupe::Ref<PingActor> ping;
};

class PongActor : public troupe::Actor {
 public:
  void on(const Partner& p) { ping_ = p.ping; }
  void on(const Ball& b);

 private:
  troupe::Ref<PingActor> ping_;
};

class PingActor : public troupe::Actor {
 public:
  PingActor(troupe::Ref<PongActor> pong, std::uint64_t rounds, troupe::Promise<std::uint64_t> done)
      : pong_(std::move(pong)), rounds_(rounds), done_(std::move(done)) {}
  void on(const Ball& b) {
    if (b.n == rounds_) {  // the ball came back `rounds` times
      done_.set_value(b.n);
      pong_.stop();
      stop();
      return;
    }
    pong_.tell(Ball{b.n + 1});
  }

 private:
  troupe::Ref<PongActor> pong_;
  std::uint64_t rounds_;
  troupe::Promise<std::uint64_t> done_;
};

void PongActor::on(const Ball& b) { ping_.tell(b); }

Sample pingpong(const Config& config) {
  const std::uint64_t rounds = config.pingpong_rounds();
  troupe::System system(options(config));
  troupe::Promise<std::uint64_t> done;
  troupe::Future<std::uint64_t> result = done.future();
  auto pong = system.spawn<PongActor>();
  auto ping = system.spawn<PingActor>(troupe::SpawnOptions{}, pong, rounds, std::move(done));
  pong.tell(Partner{ping});

  auto start = Clock::now();
  ping.tell(Ball{0});
  std::uint64_t got = await(result, config);
  double ns = ns_since(start);
  expect_equal("pingpong round trips", got, rounds);
  system.join();
  return {ns / static_cast<double>(2 * rounds)};
}

// -- fanin: many senders, one counter ------------------------------------------------------

struct Item {
  std::uint32_t sender;
  std::uint32_t seq;
};
struct Tally {
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
};

class CounterActor : public troupe::Actor {
 public:
  CounterActor(std::uint64_t total, troupe::Promise<Tally> done)
      : total_(total), next_(Config::kFaninSenders, 0), done_(std::move(done)) {}
  void on(const Item& m) {
    if (m.seq != next_[m.sender]) ++tally_.out_of_order;  // per-sender FIFO broken
    next_[m.sender] = m.seq + 1;
    if (++tally_.received == total_) {
      done_.set_value(tally_);
      stop();
    }
  }

 private:
  std::uint64_t total_;
  std::vector<std::uint32_t> next_;
  Tally tally_;
  troupe::Promise<Tally> done_;
};

struct Go {};

class SenderActor : public troupe::Actor {
 public:
  SenderActor(troupe::Ref<CounterActor> counter, std::uint32_t id, std::uint64_t count)
      : counter_(std::move(counter)), id_(id), count_(count) {}
  void on(const Go&) {  // a chunk per message, so senders take turns like everyone else
    std::uint64_t end = std::min<std::uint64_t>(sent_ + Config::kFaninChunk, count_);
    for (; sent_ < end; ++sent_) counter_.tell(Item{id_, static_cast<std::uint32_t>(sent_)});
    if (sent_ < count_) {
      self<SenderActor>().tell(Go{});
    } else {
      stop();
    }
  }

 private:
  troupe::Ref<CounterActor> counter_;
  std::uint32_t id_;
  std::uint64_t count_;
  std::uint64_t sent_ = 0;
};

Sample fanin(const Config& config) {
  const std::uint64_t per_sender = config.fanin_per_sender();
  const std::uint64_t total = per_sender * Config::kFaninSenders;
  troupe::System system(options(config));
  troupe::Promise<Tally> done;
  troupe::Future<Tally> result = done.future();
  auto counter = system.spawn<CounterActor>(troupe::SpawnOptions{}, total, std::move(done));
  std::vector<troupe::Ref<SenderActor>> senders;
  for (std::uint32_t i = 0; i < Config::kFaninSenders; ++i) {
    senders.push_back(system.spawn<SenderActor>(troupe::SpawnOptions{}, counter, i, per_sender));
  }

  auto start = Clock::now();
  for (auto& s : senders) s.tell(Go{});
  Tally tally = await(result, config);
  double ns = ns_since(start);
  expect_equal("fanin messages", tally.received, total);
  expect_equal("fanin messages out of per-sender order", tally.out_of_order, 0);
  print_stats("fanin", system);
  system.join();
  return {ns / static_cast<double>(total)};
}

// -- ring: a token goes round ----------------------------------------------------------------

class NodeActor;

struct Link {
  troupe::Ref<NodeActor> next;
};
struct Token {
  std::uint64_t hops_left;
};

class NodeActor : public troupe::Actor {
 public:
  NodeActor(std::uint64_t index, const troupe::Promise<std::uint64_t>* done)
      : index_(index), done_(done) {}
  void on(const Link& l) { next_ = l.next; }
  void on(const Token& t) {
    if (t.hops_left == 0) {
      done_->set_value(index_);  // where the token stopped
      return;
    }
    next_.tell(Token{t.hops_left - 1});
  }

 private:
  troupe::Ref<NodeActor> next_;
  std::uint64_t index_;
  const troupe::Promise<std::uint64_t>* done_;
};

Sample ring(const Config& config) {
  const std::uint64_t size = Config::kRingActors;
  const std::uint64_t hops = config.ring_hops();
  troupe::System system(options(config));
  troupe::Promise<std::uint64_t> done;
  troupe::Future<std::uint64_t> result = done.future();
  std::vector<troupe::Ref<NodeActor>> nodes;
  for (std::uint64_t i = 0; i < size; ++i) {
    nodes.push_back(system.spawn<NodeActor>(troupe::SpawnOptions{}, i, &done));
  }
  for (std::uint64_t i = 0; i < size; ++i) nodes[i].tell(Link{nodes[(i + 1) % size]});

  auto start = Clock::now();
  nodes[0].tell(Token{hops});
  std::uint64_t last = await(result, config);
  double ns = ns_since(start);
  expect_equal("ring: node holding the token at the end", last, hops % size);
  for (auto& n : nodes) n.stop();
  system.join();
  return {ns / static_cast<double>(hops)};
}

// -- skynet: a tree of a million actors sums its leaves --------------------------------------

struct Start {};
struct Sum {
  std::uint64_t value;
};

class SkynetActor : public troupe::Actor {
 public:
  SkynetActor(troupe::Ref<SkynetActor> parent, std::uint64_t num, std::uint64_t size,
              const troupe::Promise<std::uint64_t>* root)
      : parent_(std::move(parent)), num_(num), size_(size), root_(root) {}
  void on(const Start&) {
    if (size_ == 1) {
      report(num_);
      return;
    }
    // system().spawn, not Actor::spawn: CAF's skynet spawns with a plain self->spawn, which
    // neither links nor supervises, and that is what system().spawn does. (Actor::spawn
    // makes supervised children; bench/README.md says what that costs here.)
    const std::uint64_t sub = size_ / 10;
    for (std::uint64_t i = 0; i < 10; ++i) {
      system()
          .spawn<SkynetActor>(troupe::SpawnOptions{}, self<SkynetActor>(), num_ + i * sub, sub,
                              nullptr)
          .tell(Start{});
    }
  }
  void on(const Sum& s) {
    sum_ += s.value;
    if (++received_ == 10) report(sum_);
  }

 private:
  void report(std::uint64_t value) {
    if (parent_) {
      parent_.tell(Sum{value});
    } else {
      root_->set_value(value);
    }
    stop();
  }

  troupe::Ref<SkynetActor> parent_;
  std::uint64_t num_;
  std::uint64_t size_;
  const troupe::Promise<std::uint64_t>* root_;
  std::uint64_t sum_ = 0;
  unsigned received_ = 0;
};

Sample skynet(const Config& config) {
  const std::uint64_t leaves = config.skynet_leaves();
  troupe::System system(options(config));
  troupe::Promise<std::uint64_t> done;
  troupe::Future<std::uint64_t> result = done.future();

  auto start = Clock::now();
  system.spawn<SkynetActor>(troupe::SpawnOptions{}, troupe::Ref<SkynetActor>(), 0, leaves, &done)
      .tell(Start{});
  std::uint64_t sum = await(result, config);
  double ns = ns_since(start);
  expect_equal("skynet sum", sum, sum_below(leaves));
  system.join();
  return {ns / 1e6};
}

// -- spawn: a million idle actors ---------------------------------------------------------------

struct Nothing {};

class IdleActor : public troupe::Actor {
 public:
  void on(const Nothing&) {}
};

Sample spawn(const Config& config) {
  const std::uint64_t n = config.spawn_actors();
  warm_memory(n * Config::kSpawnWarmBytes);  // the same for both peers
  troupe::System system(options(config));
  std::vector<troupe::Ref<IdleActor>> refs(n);  // resident before any reading is taken

  // Two halves: the time is their sum; the bytes per actor are the resident growth over the
  // second half, so fixed costs (heap setup, malloc's top pad) do not count as per-actor.
  SpawnMeter meter(n);
  for (int half = 0; half < 2; ++half) {
    meter.begin(half);
    for (std::uint64_t i = meter.first(half); i < meter.last(half); ++i) {
      refs[i] = system.spawn<IdleActor>();
    }
    meter.end(half);
  }

  expect_equal("spawn: live actors", system.count(), n);
  for (auto& r : refs) r.stop();
  refs.clear();
  system.join();
  return meter.sample();
}

// -- ask: request/response latency from a plain thread -------------------------------------------

struct Query {
  std::uint64_t value;
};

class EchoActor : public troupe::Actor {
 public:
  std::uint64_t on(const Query& q) { return q.value + 1; }
};

Sample ask(const Config& config) {
  const std::uint64_t count = config.ask_count();
  troupe::System system(options(config));
  auto echo = system.spawn<EchoActor>();
  for (std::uint64_t i = 0; i < 10; ++i) await(echo.ask(Query{i}), config);  // warm up

  std::vector<double> us;
  us.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::this_thread::sleep_for(Config::kAskPause);  // idle long enough for workers to park
    auto start = Clock::now();
    // Untimed, as CAF's side waits with caf::infinite (the child's alarm catches a hang).
    // So the asking thread may run the answering turn itself (internal/handoff.hpp); with a
    // deadline it would not, and would wait for a worker to wake (bench/README.md, "ask").
    std::uint64_t answer = echo.ask(Query{i}).get();
    us.push_back(ns_since(start) / 1e3);
    expect_equal("ask answer", answer, i + 1);
  }
  echo.stop();
  system.join();
  double p50 = quantile(us, 0.50);
  double p99 = quantile(us, 0.99);
  return {p50, p99};
}

// -- fjthrput: Savina fork-join throughput -------------------------------------------------------

struct Work {
  double theta;
};

class FjActor : public troupe::Actor {
 public:
  FjActor(std::uint64_t expected, Countdown* done) : expected_(expected), done_(done) {}
  void on(const Work& w) {
    result_ += fj_work(w.theta);
    if (++received_ == expected_) {
      if (result_ > 0) done_->arrive();  // a zero would mean the work was skipped
      stop();
    }
  }

 private:
  std::uint64_t expected_;
  Countdown* done_;
  std::uint64_t received_ = 0;
  double result_ = 0;
};

Sample fjthrput(const Config& config) {
  const std::uint64_t per_actor = config.fj_per_actor();
  troupe::System system(options(config));
  Countdown done(Config::kFjActors);
  std::vector<troupe::Ref<FjActor>> actors;
  for (unsigned i = 0; i < Config::kFjActors; ++i) {
    actors.push_back(system.spawn<FjActor>(troupe::SpawnOptions{}, per_actor, &done));
  }

  auto start = Clock::now();
  for (std::uint64_t m = 0; m < per_actor; ++m) {
    for (auto& a : actors) a.tell(Work{37.2});
  }
  if (!done.wait(config.deadline())) wrong_result("fjthrput: not every actor finished");
  double ns = ns_since(start);
  system.join();
  return {ns / static_cast<double>(per_actor * Config::kFjActors)};
}

const std::vector<Entry>& all_runs() {
  static const std::vector<Entry> runs = [] {
    std::vector<Entry> v = {
        {"pingpong", pingpong}, {"fanin", fanin}, {"ring", ring},         {"skynet", skynet},
        {"spawn", spawn},       {"ask", ask},     {"fjthrput", fjthrput}, {"floor", run_floor},
    };
    v.insert(v.end(), kQueueRuns, kQueueRuns + kQueueRunCount);
    return v;
  }();
  return runs;
}

}  // namespace

Peer troupe_peer() { return {"troupe", "troupe (this tree)", all_runs()}; }

}  // namespace bench
