// tests/remote/node_main.cpp - the other processes of the remote tests. One mode per
// command line; each prints what the test waits for on stdout, a line at a time:
//   node_main serve   URL NODE DOWN_AFTER_MS      publishes a Counter as "counter"; READY <inc>
//   node_main send    URL NODE SENDER COUNT       tells "counter" COUNT Numbered{SENDER, i}; SENT
//   node_main ticker  URL NODE PERIOD_MS DOWN_MS  tells the test's "sink" a Tick every period;
//                                                 FENCED <old> <new> when fenced;
//                                                 STRADDLED <seq>: see the ticker below
//   node_main flood   URL NODE COUNT BYTES MAXQ   tells "sink" COUNT Bulk messages at once;
//                                                 FLOOD sent=.. dead=.. rss_kb=..
//   node_main contend URL NODE DOWN_AFTER_MS     agreed names (JetStream); READY, then per line
//                                                 of stdin: "publish" -> WON or TAKEN <why>
//                                                 (publishes a Counter as "leader"), "lookup"
//                                                 -> HOLDER <node> or NOHOLDER; prints
//                                                 DOWN <node> on each MemberDown
// `serve`, `ticker` and `contend` run until stdin closes (the test ends them, or kills them).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "test_actors.hpp"
#include <troupe/remote.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;
using namespace remote_test;

namespace {

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void wait_for_stdin_eof() {
  std::string line;
  while (std::getline(std::cin, line)) {
  }
}

/// Reports fencing on stdout.
class FenceReporter : public troupe::Actor {
 public:
  void on(const troupe::Fenced& f) {
    say("FENCED " + std::to_string(f.old_incarnation) + " " + std::to_string(f.new_incarnation));
  }
};

/// Reports the nodes declared down on stdout.
class DownReporter : public troupe::Actor {
 public:
  void on(const troupe::MemberDown& d) { say("DOWN " + d.node); }
};

template <class P>
troupe::RemoteRef<P> find(troupe::Node& node, const std::string& name) {
  for (int attempt = 0;; ++attempt) {
    try {
      return node.template lookup<P>(name, 2s).get(5s);
    } catch (const troupe::Error& e) {
      if (attempt == 50) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: node_main MODE URL NODE ...\n");
    return 2;
  }
  std::string mode = argv[1];
  troupe::System system({.workers = 2});
  troupe::NodeOptions options{.urls = {argv[2]}, .cluster = "test", .name = argv[3]};
  try {
    if (mode == "serve" && argc == 5) {
      options.down_after = std::chrono::milliseconds(std::atoi(argv[4]));
      troupe::Node node(system, options);
      auto counter =
          system.spawn<Counter>({.name = "counter", .on_failure = troupe::OnFailure::resume});
      node.publish<CounterProtocol>(counter, "counter");
      say("READY " + std::to_string(node.incarnation()));
      wait_for_stdin_eof();
      return 0;
    }
    if (mode == "send" && argc == 6) {
      int sender = std::atoi(argv[4]);
      long count = std::atol(argv[5]);
      troupe::Node node(system, options);
      auto counter = find<CounterProtocol>(node, "counter");
      for (long i = 0; i < count; ++i) {
        // false: not queued (the outbound queue is full): nothing was sent, so retrying
        // cannot duplicate.
        while (!counter.tell(Numbered{sender, i})) std::this_thread::sleep_for(50us);
      }
      counter.ask(Check{}, 60s).get(70s);  // FIFO: every tell above was delivered before it
      say("SENT " + std::to_string(count));
      return 0;
    }
    if (mode == "ticker" && argc == 6) {
      auto period = std::chrono::milliseconds(std::atoi(argv[4]));
      options.down_after = std::chrono::milliseconds(std::atoi(argv[5]));
      options.heartbeat = options.down_after / 10;
      troupe::Node node(system, options);
      node.subscribe_members(system.spawn<FenceReporter>());
      auto sink = find<SinkProtocol>(node, "sink");
      say("READY " + std::to_string(node.incarnation()));
      std::atomic<bool> done{false};
      std::thread ticker([&] {
        std::int64_t seq = 0;
        while (!done) {
          // A tick names the incarnation that sends it. The node stamps each frame with
          // its incarnation inside tell(), so the label read before the call is right
          // unless the node rejoined (fenced) between the two reads: then the frame may
          // carry either incarnation, and the test must not judge this tick by its label.
          const std::uint64_t incarnation = node.incarnation();
          sink.tell(Tick{incarnation, seq});
          if (node.incarnation() != incarnation) say("STRADDLED " + std::to_string(seq));
          ++seq;
          std::this_thread::sleep_for(period);
        }
      });
      wait_for_stdin_eof();
      done = true;
      ticker.join();
      return 0;
    }
    if (mode == "contend" && argc == 5) {
      options.down_after = std::chrono::milliseconds(std::atoi(argv[4]));
      options.heartbeat = options.down_after / 10;
      options.names = troupe::NameRegistry::jetstream;
      troupe::Node node(system, options);
      node.subscribe_members(system.spawn<DownReporter>());
      auto counter = system.spawn<Counter>();
      say("READY " + std::to_string(node.incarnation()));
      std::string command;
      while (std::getline(std::cin, command)) {
        if (command == "publish") {
          try {
            node.publish<CounterProtocol>(counter, "leader");
            say("WON");
          } catch (const troupe::NameTaken& e) {
            say(std::string("TAKEN ") + e.what());
          }
        } else if (command == "lookup") {
          try {
            say("HOLDER " + node.lookup<CounterProtocol>("leader", 2s).get(5s).node());
          } catch (const troupe::Error& e) {
            say(std::string("NOHOLDER ") + e.what());
          }
        }
      }
      return 0;
    }
    if (mode == "flood" && argc == 7) {
      long count = std::atol(argv[4]);
      std::string payload(static_cast<std::size_t>(std::atol(argv[5])), 'x');
      options.outbound_max_messages = static_cast<std::size_t>(std::atol(argv[6]));
      options.log_drops = false;
      troupe::Node node(system, options);
      auto sink = find<SinkProtocol>(node, "sink");
      long before = rss_kb();
      long peak = before;
      long refused = 0;
      for (long i = 0; i < count; ++i) {
        if (!sink.tell(Bulk{payload})) ++refused;
        if (i % 1000 == 0) peak = std::max(peak, rss_kb());
      }
      std::this_thread::sleep_for(500ms);
      auto s = node.stats();
      say("FLOOD sent=" + std::to_string(s.sent) + " dead=" + std::to_string(s.dead_letters) +
          " refused=" + std::to_string(refused) +
          " rss_growth_kb=" + std::to_string(peak - before));
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_main %s: %s\n", mode.c_str(), e.what());
    say(std::string("ERROR ") + e.what());
    return 1;
  }
  std::fprintf(stderr, "node_main: bad arguments for mode %s\n", mode.c_str());
  return 2;
}
