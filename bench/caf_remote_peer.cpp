// bench/caf_remote_peer.cpp - CAF 0.17 remoting as the remote bench's peer (the header says
// what is measured). Written as CAF's own remoting examples are: a function-based actor,
// `middleman().publish` on one side, `middleman().remote_actor` on the other, a blocking
// `scoped_actor` for requests from a plain thread, `anon_send` for one-way sends. CAF's
// default configuration except `scheduler.max-threads` = 2 (troupe's nodes run 2 workers).
#include "caf_remote_peer.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace caf_peer {
namespace {

using Clock = std::chrono::steady_clock;
using count_atom = caf::atom_constant<caf::atom("count")>;

struct Setup : caf::actor_system_config {
  Setup() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", std::size_t{2});
  }
};

struct EchoState {
  std::int64_t seen = 0;
};

/// Answers a number with itself (and counts it); answers `count` with how many it saw.
caf::behavior echo(caf::stateful_actor<EchoState>* self) {
  return {
      [=](std::int64_t n) {
        ++self->state.seen;
        return n;
      },
      [=](count_atom) { return self->state.seen; },
  };
}

}  // namespace

int serve() {
  Setup cfg;
  caf::actor_system system{cfg};
  auto actor = system.spawn(echo);
  auto port = system.middleman().publish(actor, 0, "127.0.0.1");
  if (!port) {
    std::fprintf(stderr, "caf far side: publish failed: %s\n",
                 system.render(port.error()).c_str());
    return 1;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  return 0;
}

Results measure(std::uint16_t port, long asks, long tells) {
  Results r;
  Setup cfg;
  caf::actor_system system{cfg};
  auto remote = system.middleman().remote_actor("127.0.0.1", port);
  if (!remote) {
    r.error = "remote_actor failed: " + system.render(remote.error());
    return r;
  }
  caf::actor far = *remote;
  caf::scoped_actor self{system};
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(asks));
  for (long i = 0; i < asks && r.error.empty(); ++i) {
    auto t0 = Clock::now();
    self->request(far, std::chrono::seconds(5), std::int64_t{i})
        .receive([&](std::int64_t) {},
                 [&](caf::error& e) { r.error = "request failed: " + system.render(e); });
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  if (!r.error.empty() || us.empty()) return r;
  std::sort(us.begin(), us.end());
  r.ask_p50_us = us[us.size() / 2];
  r.ask_p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];

  auto seen = [&] {
    std::int64_t n = -1;
    self->request(far, std::chrono::seconds(30), count_atom::value)
        .receive([&](std::int64_t v) { n = v; },
                 [&](caf::error& e) { r.error = "count failed: " + system.render(e); });
    return n;
  };
  for (int senders : {1, 8}) {
    std::int64_t before = seen();
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int s = 0; s < senders; ++s) {
      threads.emplace_back([&, s] {
        for (long i = s; i < tells; i += senders) caf::anon_send(far, std::int64_t{i});
      });
    }
    for (auto& t : threads) t.join();
    auto deadline = Clock::now() + std::chrono::seconds(120);
    while (r.error.empty() && seen() - before < tells) {
      if (Clock::now() > deadline) r.error = "the tells did not all arrive within 120 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!r.error.empty()) return r;
    double rate = static_cast<double>(tells) /
                  std::chrono::duration<double>(Clock::now() - t0).count();
    (senders == 1 ? r.tell_1 : r.tell_8) = rate;
  }
  return r;
}

}  // namespace caf_peer
