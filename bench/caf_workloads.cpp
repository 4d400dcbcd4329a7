// bench/caf_workloads.cpp - the suite on CAF 0.17 (Debian's libcaf-dev), the peer.
//
// Written the way CAF's own examples and benchmarks write actors: function-based
// event_based actors (stateful_actor where they keep state), `send` between actors,
// `anon_send` from the main thread, a returned value as the reply. The scheduler is CAF's
// default work-stealing one with `scheduler.max-threads` = the worker count; everything
// else is CAF's default configuration. Completion is signalled to the waiting main thread
// the same way as on the troupe side (a promise, or a Countdown), so that cost is equal.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "harness.hpp"
#include "workloads.hpp"

namespace bench {
namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

/// The CAF configuration for a run: CAF's defaults with `workers` scheduler threads.
struct Setup : caf::actor_system_config {
  explicit Setup(const Config& config) {
    set("scheduler.max-threads", static_cast<std::size_t>(config.workers));
  }
};

template <class T>
T wait_for(std::future<T>& f, const Config& config) {
  if (f.wait_for(config.deadline()) != std::future_status::ready) {
    wrong_result("CAF run did not finish before the deadline");
  }
  return f.get();
}

// -- pingpong --------------------------------------------------------------------------------

caf::behavior pong_fn(caf::event_based_actor*) {
  return {[](std::uint64_t n) { return n; }};  // the reply goes back to the sender
}

caf::behavior ping_fn(caf::event_based_actor* self, caf::actor pong, std::uint64_t rounds,
                      std::promise<std::uint64_t>* done) {
  return {[=](std::uint64_t n) {
    if (n == rounds) {
      done->set_value(n);
      self->send_exit(pong, caf::exit_reason::user_shutdown);
      self->quit();
      return;
    }
    self->send(pong, n + 1);
  }};
}

Sample pingpong(const Config& config) {
  const std::uint64_t rounds = config.pingpong_rounds();
  Setup cfg(config);
  caf::actor_system sys{cfg};
  std::promise<std::uint64_t> done;
  auto result = done.get_future();
  auto pong = sys.spawn(pong_fn);
  auto ping = sys.spawn(ping_fn, pong, rounds, &done);

  auto start = Clock::now();
  caf::anon_send(ping, std::uint64_t{0});
  std::uint64_t got = wait_for(result, config);
  double ns = ns_since(start);
  expect_equal("pingpong round trips", got, rounds);
  sys.await_all_actors_done();
  return {ns / static_cast<double>(2 * rounds)};
}

// -- fanin -------------------------------------------------------------------------------------

struct Tally {
  std::uint64_t received = 0;
  std::uint64_t out_of_order = 0;
};

struct CounterState {
  Tally tally;
  std::vector<std::uint32_t> next;
};

caf::behavior counter_fn(caf::stateful_actor<CounterState>* self, std::uint64_t total,
                         std::promise<Tally>* done) {
  self->state.next.assign(Config::kFaninSenders, 0);
  return {[=](std::uint32_t sender, std::uint32_t seq) {
    auto& st = self->state;
    if (seq != st.next[sender]) ++st.tally.out_of_order;
    st.next[sender] = seq + 1;
    if (++st.tally.received == total) {
      done->set_value(st.tally);
      self->quit();
    }
  }};
}

struct SenderState {
  std::uint64_t sent = 0;
};

caf::behavior sender_fn(caf::stateful_actor<SenderState>* self, caf::actor counter,
                        std::uint32_t id, std::uint64_t count) {
  return {[=](go_atom) {
    auto& sent = self->state.sent;
    std::uint64_t end = std::min<std::uint64_t>(sent + Config::kFaninChunk, count);
    for (; sent < end; ++sent) self->send(counter, id, static_cast<std::uint32_t>(sent));
    if (sent < count) {
      self->send(self, go_atom::value);
    } else {
      self->quit();
    }
  }};
}

Sample fanin(const Config& config) {
  const std::uint64_t per_sender = config.fanin_per_sender();
  const std::uint64_t total = per_sender * Config::kFaninSenders;
  Setup cfg(config);
  caf::actor_system sys{cfg};
  std::promise<Tally> done;
  auto result = done.get_future();
  auto counter = sys.spawn(counter_fn, total, &done);
  std::vector<caf::actor> senders;
  for (std::uint32_t i = 0; i < Config::kFaninSenders; ++i) {
    senders.push_back(sys.spawn(sender_fn, counter, i, per_sender));
  }

  auto start = Clock::now();
  for (auto& s : senders) caf::anon_send(s, go_atom::value);
  Tally tally = wait_for(result, config);
  double ns = ns_since(start);
  expect_equal("fanin messages", tally.received, total);
  expect_equal("fanin messages out of per-sender order", tally.out_of_order, 0);
  sys.await_all_actors_done();
  return {ns / static_cast<double>(total)};
}

// -- ring ----------------------------------------------------------------------------------------

struct NodeState {
  caf::actor next;
};

caf::behavior node_fn(caf::stateful_actor<NodeState>* self, std::uint64_t index,
                      std::promise<std::uint64_t>* done) {
  return {
      [=](caf::actor next) { self->state.next = std::move(next); },
      [=](std::uint64_t hops_left) {
        if (hops_left == 0) {
          done->set_value(index);
          return;
        }
        self->send(self->state.next, hops_left - 1);
      },
  };
}

Sample ring(const Config& config) {
  const std::uint64_t size = Config::kRingActors;
  const std::uint64_t hops = config.ring_hops();
  Setup cfg(config);
  caf::actor_system sys{cfg};
  std::promise<std::uint64_t> done;
  auto result = done.get_future();
  std::vector<caf::actor> nodes;
  for (std::uint64_t i = 0; i < size; ++i) nodes.push_back(sys.spawn(node_fn, i, &done));
  for (std::uint64_t i = 0; i < size; ++i) caf::anon_send(nodes[i], nodes[(i + 1) % size]);

  auto start = Clock::now();
  caf::anon_send(nodes[0], hops);
  std::uint64_t last = wait_for(result, config);
  double ns = ns_since(start);
  expect_equal("ring: node holding the token at the end", last, hops % size);
  for (auto& n : nodes) caf::anon_send_exit(n, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  return {ns / static_cast<double>(hops)};
}

// -- skynet
// ----------------------------------------------------------------------------------------

struct SkynetState {
  std::uint64_t sum = 0;
  unsigned received = 0;
};

caf::behavior skynet_fn(caf::stateful_actor<SkynetState>* self, caf::actor parent,
                        std::uint64_t num, std::uint64_t size) {
  if (size == 1) {
    self->send(parent, num);
    self->quit();
    return {};
  }
  const std::uint64_t sub = size / 10;
  for (std::uint64_t i = 0; i < 10; ++i) {
    self->spawn(skynet_fn, caf::actor_cast<caf::actor>(self), num + i * sub, sub);
  }
  return {[=](std::uint64_t value) {
    auto& st = self->state;
    st.sum += value;
    if (++st.received == 10) {
      self->send(parent, st.sum);
      self->quit();
    }
  }};
}

caf::behavior sink_fn(caf::event_based_actor* self, std::promise<std::uint64_t>* done) {
  return {[=](std::uint64_t value) {
    done->set_value(value);
    self->quit();
  }};
}

Sample skynet(const Config& config) {
  const std::uint64_t leaves = config.skynet_leaves();
  Setup cfg(config);
  caf::actor_system sys{cfg};
  std::promise<std::uint64_t> done;
  auto result = done.get_future();
  auto sink = sys.spawn(sink_fn, &done);

  auto start = Clock::now();
  sys.spawn(skynet_fn, sink, std::uint64_t{0}, leaves);
  std::uint64_t sum = wait_for(result, config);
  double ns = ns_since(start);
  expect_equal("skynet sum", sum, sum_below(leaves));
  sys.await_all_actors_done();
  return {ns / 1e6};
}

// -- spawn
// -----------------------------------------------------------------------------------------

std::atomic<std::uint64_t> initialized{0};

caf::behavior idle_fn(caf::event_based_actor*) {
  initialized.fetch_add(1, std::memory_order_relaxed);
  return {[](int) {}};
}

Sample spawn(const Config& config) {
  const std::uint64_t n = config.spawn_actors();
  warm_memory(n * Config::kSpawnWarmBytes);  // the same for both peers
  Setup cfg(config);
  caf::actor_system sys{cfg};
  std::vector<caf::actor> handles(n);  // resident before any reading is taken
  initialized.store(0);

  SpawnMeter meter(n);  // two halves, as on the troupe side
  for (int half = 0; half < 2; ++half) {
    meter.begin(half);
    for (std::uint64_t i = meter.first(half); i < meter.last(half); ++i) {
      handles[i] = sys.spawn(idle_fn);
    }
    // CAF runs an actor's initialization on a worker: a spawn counts once that has run.
    auto give_up = Clock::now() + config.deadline();
    while (initialized.load(std::memory_order_acquire) < meter.last(half) &&
           Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    meter.end(half);
  }

  expect_equal("spawn: initialized actors", initialized.load(), n);
  for (auto& h : handles) caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  handles.clear();
  sys.await_all_actors_done();
  return meter.sample();
}

// -- ask
// ---------------------------------------------------------------------------------------------

caf::behavior echo_fn(caf::event_based_actor*) {
  return {[](std::uint64_t v) { return v + 1; }};
}

Sample ask(const Config& config) {
  const std::uint64_t count = config.ask_count();
  Setup cfg(config);
  caf::actor_system sys{cfg};
  auto echo = sys.spawn(echo_fn);
  caf::scoped_actor self{sys};
  std::string error;
  auto request = [&](std::uint64_t v) {
    std::uint64_t answer = 0;
    self->request(echo, caf::infinite, v)
        .receive([&](std::uint64_t r) { answer = r; },
                 [&](caf::error& e) { error = sys.render(e); });
    if (!error.empty()) wrong_result("CAF request failed: " + error);
    return answer;
  };
  for (std::uint64_t i = 0; i < 10; ++i) request(i);  // warm up

  std::vector<double> us;
  us.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::this_thread::sleep_for(Config::kAskPause);
    auto start = Clock::now();
    std::uint64_t answer = request(i);
    us.push_back(ns_since(start) / 1e3);
    expect_equal("ask answer", answer, i + 1);
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  double p50 = quantile(us, 0.50);
  double p99 = quantile(us, 0.99);
  return {p50, p99};
}

// -- fjthrput
// ------------------------------------------------------------------------------------------

struct FjState {
  std::uint64_t received = 0;
  double result = 0;
};

caf::behavior fj_fn(caf::stateful_actor<FjState>* self, std::uint64_t expected, Countdown* done) {
  return {[=](double theta) {
    auto& st = self->state;
    st.result += fj_work(theta);
    if (++st.received == expected) {
      if (st.result > 0) done->arrive();
      self->quit();
    }
  }};
}

Sample fjthrput(const Config& config) {
  const std::uint64_t per_actor = config.fj_per_actor();
  Setup cfg(config);
  caf::actor_system sys{cfg};
  Countdown done(Config::kFjActors);
  std::vector<caf::actor> actors;
  for (unsigned i = 0; i < Config::kFjActors; ++i) {
    actors.push_back(sys.spawn(fj_fn, per_actor, &done));
  }

  auto start = Clock::now();
  for (std::uint64_t m = 0; m < per_actor; ++m) {
    for (auto& a : actors) caf::anon_send(a, 37.2);
  }
  if (!done.wait(config.deadline())) wrong_result("fjthrput: not every actor finished");
  double ns = ns_since(start);
  sys.await_all_actors_done();
  return {ns / static_cast<double>(per_actor * Config::kFjActors)};
}

constexpr Entry kRuns[] = {
    {"pingpong", pingpong}, {"fanin", fanin}, {"ring", ring},         {"skynet", skynet},
    {"spawn", spawn},       {"ask", ask},     {"fjthrput", fjthrput},
};

}  // namespace

Peer caf_peer() {
  static const std::string version = "CAF " + std::to_string(CAF_MAJOR_VERSION) + "." +
                                     std::to_string(CAF_MINOR_VERSION) + "." +
                                     std::to_string(CAF_PATCH_VERSION);
  return {"CAF", version, kRuns};
}

}  // namespace bench
