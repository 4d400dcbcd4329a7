// observed_cluster_app - a troupe node with peer nodes and a cluster queue, for the tests of
// the observer's cluster panel. Run with TROUPE_OBSERVE=127.0.0.1:0 it is watched like any
// program; what it sets up, so that the panel has each of its states to show:
//   - its own nats-server -js on a free loopback port (never 4222), store in a temp dir;
//   - this process's Node "hub" and three peer nodes (heartbeat 250 ms, down_after 600 s
//     everywhere: a node that declares a peer down tells the others), each a process of its
//     own started from this executable: "peer-busy", which the main thread asks all the time
//     (traffic both ways); "peer-stopped", SIGSTOPped once found, so that it stays
//     "suspected" (heard from long ago, not declared down); "peer-left", which leaves the
//     cluster once found (its stdin closed), so that it is "down";
//   - a ClusterQueue "observed-jobs" (capacity 400) shown on the page with observe(): a
//     producer thread puts faster than two worker threads take leases, so the queue fills
//     to its capacity and put waits; one item in 7 fails once (a redelivery), one in 50 always fails (a
//     dead letter after 3 deliveries).
//
// Usage: observed_cluster_app [seconds]        (default 30, then it exits 0)
//        observed_cluster_app peer URL NAME    (a peer node; leaves when its stdin closes)
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../cluster/servers.hpp"
#include <troupe/remote/cluster_queue.hpp>
#include <troupe/remote/node.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

struct Ping {
  int n = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(n);
  }
};
TROUPE_REMOTE_MESSAGE(Ping, "observed_cluster_app.ping.v1");
using EchoProtocol = troupe::Protocol<troupe::Accepts<Ping, int>>;

class Echo : public troupe::Actor {
 public:
  int on(const Ping& p) { return p.n; }
};

namespace {

constexpr const char* kCluster = "observed";

int run_peer(const std::string& url, const std::string& name) {
  troupe::System system;
  troupe::Node node(system, {.urls = {url},
                             .cluster = kCluster,
                             .name = name,
                             .heartbeat = 250ms,
                             .down_after = 600s});
  node.publish<EchoProtocol>(system.spawn<Echo>(), "echo-" + name);
  std::printf("READY\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

troupe::RemoteRef<EchoProtocol> find(troupe::Node& node, const std::string& name) {
  for (int i = 0;; ++i) {
    try {
      return node.lookup<EchoProtocol>("echo-" + name).get(2s);
    } catch (const std::exception&) {
      if (i == 50) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

bool is_up(const troupe::Node& node, const std::string& name) {
  for (const auto& p : node.peers()) {
    if (p.node == name) return p.up;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "peer") {
    unsetenv("TROUPE_OBSERVE");  // only the hub is watched: one URL on stderr
    return run_peer(argv[2], argv[3]);
  }
  int seconds = argc > 1 ? std::atoi(argv[1]) : 30;
  // SIGTERM (how the tests end it) and SIGINT end the run early but cleanly: the servers'
  // temp dirs removed, the peers told to leave. Blocked before any thread starts.
  sigset_t ending;
  sigemptyset(&ending);
  sigaddset(&ending, SIGTERM);
  sigaddset(&ending, SIGINT);
  pthread_sigmask(SIG_BLOCK, &ending, nullptr);
  cq_test::JetStream nats;
  std::vector<std::unique_ptr<cluster::Process>> peers;
  for (const char* name : {"peer-busy", "peer-stopped", "peer-left"}) {
    peers.push_back(std::make_unique<cluster::Process>(
        std::vector<std::string>{"/proc/self/exe", "peer", nats.url(), name}));
    cq_test::keep_pipes_private();
    if (peers.back()->wait_for("READY").empty()) {
      std::fprintf(stderr, "observed_cluster_app: peer %s did not start\n", name);
      return 1;
    }
  }

  troupe::System system;
  troupe::Node node(system, {.urls = {nats.url()},
                             .cluster = kCluster,
                             .name = "hub",
                             .heartbeat = 250ms,
                             .down_after = 600s});
  auto busy = find(node, "peer-busy");
  auto stopped = find(node, "peer-stopped");
  stopped.ask(Ping{1}).get(5s);
  // Stopped only once the hub has heard its heartbeat (up), so that it turns "suspected".
  for (int i = 0; i < 100 && !is_up(node, "peer-stopped"); ++i) std::this_thread::sleep_for(50ms);
  peers[1]->signal(SIGSTOP);
  find(node, "peer-left").ask(Ping{2}).get(5s);
  peers[2]->close_stdin();  // it leaves: declared down at once

  troupe::ClusterQueue<std::int64_t> jobs({.urls = {nats.url()},
                                           .name = "observed-jobs",
                                           .capacity = 400,
                                           .ack_wait = 5000ms,
                                           .max_deliver = 3,
                                           .file_storage = false});
  jobs.observe(system);

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // the producer: up to 500 items a second, 32 puts in flight
    std::deque<troupe::Future<void>> in_flight;
    for (std::int64_t n = 1; !stop; ++n) {
      in_flight.push_back(jobs.put(n % 50 == 0 ? -n : n, {.timeout = 1s}));
      if (in_flight.size() > 32) {
        try {
          in_flight.front().get(5s);
        } catch (const std::exception&) {
          // full for a second (put waits for room): the queue is at its capacity
        }
        in_flight.pop_front();
      }
      std::this_thread::sleep_for(2ms);
    }
    for (auto& f : in_flight) f.wait_for(5s);
  });
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&] {  // a worker: at most 50 items a second
      while (!stop) {
        std::optional<troupe::Lease<std::int64_t>> lease;
        try {
          lease.emplace(jobs.get(200ms).get(5s));
        } catch (const std::exception&) {
          continue;
        }
        std::int64_t n = **lease;
        std::this_thread::sleep_for(20ms);
        if (n < 0) {
          lease->retry("job " + std::to_string(-n) + " always fails");
        } else if (n % 7 == 0 && lease->deliveries() == 1) {
          lease->retry("job " + std::to_string(n) + " failed once");
        } else {
          lease->done();
        }
      }
    });
  }
  threads.emplace_back([&] {  // traffic with peer-busy: asks, one at a time
    for (int n = 0; !stop; ++n) {
      try {
        busy.ask(Ping{n}).get(2s);
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(2ms);
    }
  });

  timespec run{seconds, 0};
  sigtimedwait(&ending, nullptr, &run);
  stop = true;
  for (auto& t : threads) t.join();
  peers[1]->signal(SIGCONT);
  jobs.unobserve();
  return 0;
}
