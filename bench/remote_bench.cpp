// bench/remote_bench.cpp - troupe-remote beside its floor, raw cnats, on one machine.
//
//   troupe-remote-bench [--asks N] [--tells N] [--workers N] [--far-spin US] [--no-caf]
//                       [--json FILE]
//
// Starts its own nats-server on a free loopback port, and a second process of itself (the
// "far" side) that answers. Measures, in one run:
//   raw request/reply   natsConnection_Request round trips to a responder in the far process
//   raw pub/sub         one publisher connection -> a subscriber in the far process, msg/s
//   troupe ask          RemoteRef::ask round trips to an actor in the far process
//   troupe tell x1, x8  one or eight threads telling that actor, msg/s until all arrived
//   CAF ask, tell x1/x8 the same against CAF 0.17's own remoting (caf_remote_peer.hpp), a
//                       third process of itself started once troupe's part is done
// Round trips are sequential (one in flight): p50 and p99 in microseconds. --workers sets
// the troupe worker count of both sides (default 2), --far-spin the far System's idle spin
// (SystemOptions::spin, default 50 us).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include <troupe/remote.hpp>
#include <troupe/troupe.hpp>

#ifdef TROUPE_BENCH_CAF_REMOTE
#include "caf_remote_peer.hpp"
#endif

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Ping {
  std::int64_t n = 0;
  template <class A>
  void serialize(A& ar) {
    ar(n);
  }
};
struct Count {
  template <class A>
  void serialize(A&) {}
};
TROUPE_REMOTE_MESSAGE(Ping, "bench.ping.v1");
TROUPE_REMOTE_MESSAGE(Count, "bench.count.v1");
using EchoProtocol =
    troupe::Protocol<troupe::Accepts<Ping, std::int64_t>, troupe::Accepts<Count, std::int64_t>>;

// A tell of Ping is counted; an ask of Ping answers n. (One handler serves both.)
class Echo : public troupe::Actor {
 public:
  std::int64_t on(const Ping& p) {
    ++seen_;
    return p.n;
  }
  std::int64_t on(const Count&) { return seen_; }

 private:
  std::int64_t seen_ = 0;
};

namespace {

std::string start_server(pid_t& pid, std::string& dir) {
  char tmpl[] = "/tmp/troupe-remote-bench-XXXXXX";
  dir = mkdtemp(tmpl);
  pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    std::string log = dir + "/server.log";
    execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir",
           dir.c_str(), "--log", log.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 1000; ++i) {
    for (auto& f : std::filesystem::directory_iterator(dir)) {
      if (f.path().extension() != ".ports") continue;
      std::stringstream text;
      text << std::ifstream(f.path()).rdbuf();
      auto s = text.str();
      auto at = s.find("nats://");
      auto end = s.find('"', at);
      if (at != std::string::npos && end != std::string::npos) return s.substr(at, end - at);
    }
    std::this_thread::sleep_for(10ms);
  }
  throw std::runtime_error("nats-server did not start");
}

void raw_echo(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  if (const char* reply = natsMsg_GetReply(msg)) {
    natsConnection_Publish(nc, reply, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  }
  natsMsg_Destroy(msg);
}
std::atomic<long> raw_seen{0};
void raw_count(natsConnection*, natsSubscription*, natsMsg* msg, void*) {
  ++raw_seen;
  natsMsg_Destroy(msg);
}

/// The far process: a raw responder and counter, and an Echo actor published as "echo".
int far_side(const std::string& url, int workers, int spin_us) {
  // The responder sends its replies at once (SendAsap), as the NATS docs advise for a
  // replier: the fair floor for request/reply.
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetSendAsap(opts, true);
  natsConnection* nc = nullptr;
  if (natsConnection_Connect(&nc, opts) != NATS_OK) return 1;
  natsOptions_Destroy(opts);
  natsSubscription* echo = nullptr;
  natsSubscription* count = nullptr;
  natsConnection_Subscribe(&echo, nc, "raw.echo", raw_echo, nullptr);
  natsConnection_Subscribe(&count, nc, "raw.count", raw_count, nullptr);
  natsSubscription_SetPendingLimits(count, -1, -1);
  natsSubscription* total = nullptr;
  natsConnection_Subscribe(
      &total, nc, "raw.total",
      [](natsConnection* c, natsSubscription*, natsMsg* m, void*) {
        std::string n = std::to_string(raw_seen.load());
        if (const char* reply = natsMsg_GetReply(m))
          natsConnection_PublishString(c, reply, n.c_str());
        natsMsg_Destroy(m);
      },
      nullptr);
  natsConnection_Flush(nc);
  troupe::SystemOptions so;
  so.workers = static_cast<unsigned>(workers);
  if (spin_us >= 0) so.spin = std::chrono::microseconds(spin_us);
  troupe::System system(so);
  troupe::Node node(system, {.urls = {url}, .cluster = "bench", .name = "far", .log_drops = false});
  node.publish<EchoProtocol>(system.spawn<Echo>(), "echo");
  // The same with every inbound frame through the node's proxy actor (the way before
  // deliver_on_nats_thread), to compare in one run.
  troupe::Node via_proxy(system, {.urls = {url},
                                  .cluster = "bench",
                                  .name = "far-proxy",
                                  .deliver_on_nats_thread = false,
                                  .log_drops = false});
  via_proxy.publish<EchoProtocol>(system.spawn<Echo>(), "echo-proxy");
  std::printf("READY\n");
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  natsSubscription_Destroy(echo);
  natsSubscription_Destroy(count);
  natsSubscription_Destroy(total);
  natsConnection_Destroy(nc);
  return 0;
}

struct Latency {
  double p50 = 0, p99 = 0;
};
Latency percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

/// Starts this program again as `mode` with `args`, its stdin and stdout on pipes.
struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin
  int out = -1;  // its stdout
};
Child spawn_self(const std::vector<std::string>& args) {
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) throw std::runtime_error("pipe failed");
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(to[0], 0);
    dup2(from[1], 1);
    for (int fd : {to[0], to[1], from[0], from[1]}) close(fd);
    std::vector<char*> argv{const_cast<char*>("troupe-remote-bench")};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  c.in = to[1];
  c.out = from[0];
  return c;
}

/// The first line the child prints (without its newline).
std::string first_line(const Child& c) {
  std::string line;
  char ch;
  while (read(c.out, &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  return line;
}

void finish(Child& c) {
  close(c.in);
  waitpid(c.pid, nullptr, 0);
  close(c.out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "far") {
    return far_side(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  }
#ifdef TROUPE_BENCH_CAF_REMOTE
  if (argc == 2 && std::string(argv[1]) == "caf-far") return caf_peer::serve();
#endif
  long asks = 20'000, tells = 1'000'000;
  int workers = 2;
  int far_spin = -1;
  bool caf = true;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--no-caf") {
      caf = false;
    } else if (a == "--asks" && has_value) {
      asks = std::atol(argv[++i]);
    } else if (a == "--tells" && has_value) {
      tells = std::atol(argv[++i]);
    } else if (a == "--workers" && has_value) {
      workers = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--far-spin" && has_value) {
      far_spin = std::atoi(argv[++i]);
    } else if (a == "--json" && has_value) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "troupe-remote-bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  pid_t server = -1;
  std::string dir;
  std::string url = start_server(server, dir);

  Child far = spawn_self({"far", url, std::to_string(workers), std::to_string(far_spin)});
  if (first_line(far) != "READY") return 1;

  std::vector<std::pair<std::string, std::string>> rows;
  auto row = [&](const std::string& name, const std::string& value) {
    rows.emplace_back(name, value);
    std::fprintf(stderr, "%-34s %s\n", name.c_str(), value.c_str());
  };
  char text[160];
  Latency ask;
  double raw_ps = 0, tell_1 = 0, tell_8 = 0;

  // -- raw cnats: request/reply and pub/sub ------------------------------------------------------
  natsConnection* nc = nullptr;
  natsConnection_ConnectTo(&nc, url.c_str());
  std::vector<double> us;
  for (long i = 0; i < asks; ++i) {
    natsMsg* reply = nullptr;
    auto t0 = Clock::now();
    natsConnection_RequestString(&reply, nc, "raw.echo", "12345678", 5000);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    natsMsg_Destroy(reply);
  }
  auto raw_rr = percentiles(us);
  std::snprintf(text, sizeof text, "p50 %.1f us, p99 %.1f us", raw_rr.p50, raw_rr.p99);
  row("raw cnats request/reply", text);
  {
    std::string payload(16, 'x');
    auto t0 = Clock::now();
    for (long i = 0; i < tells; ++i) natsConnection_Publish(nc, "raw.count", payload.data(), 16);
    for (;;) {
      natsMsg* reply = nullptr;
      natsConnection_RequestString(&reply, nc, "raw.total", "", 5000);
      long seen = reply ? std::atol(natsMsg_GetData(reply)) : 0;
      natsMsg_Destroy(reply);
      if (seen >= tells) break;
      std::this_thread::sleep_for(1ms);
    }
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    raw_ps = tells / secs;
    std::snprintf(text, sizeof text, "%.0f msg/s", raw_ps);
    row("raw cnats pub/sub, 1 publisher", text);
  }
  natsConnection_Destroy(nc);

  // -- troupe -------------------------------------------------------------------------------------
  {
    troupe::System system({.workers = static_cast<unsigned>(workers)});
    troupe::Node node(system,
                      {.urls = {url}, .cluster = "bench", .name = "near", .log_drops = false});
    auto echo = node.lookup<EchoProtocol>("echo").get(5s);
    auto echo_proxy = node.lookup<EchoProtocol>("echo-proxy").get(5s);
    // Five alternating blocks each, so that both see the same moments of a noisy host.
    std::vector<double> direct_us, proxy_us;
    for (int block = 0; block < 10; ++block) {
      auto& target = block % 2 == 0 ? echo : echo_proxy;
      auto& out = block % 2 == 0 ? direct_us : proxy_us;
      for (long i = 0; i < asks / 5; ++i) {
        auto t0 = Clock::now();
        target.ask(Ping{i}).get(5s);
        out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    }
    auto via_proxy = percentiles(proxy_us);
    std::snprintf(text, sizeof text, "p50 %.1f us, p99 %.1f us (%.2fx the raw p50)",
                  via_proxy.p50, via_proxy.p99, via_proxy.p50 / raw_rr.p50);
    row("troupe remote ask, via the proxy", text);
    ask = percentiles(direct_us);
    std::snprintf(text, sizeof text, "p50 %.1f us, p99 %.1f us (%.2fx the raw p50)", ask.p50,
                  ask.p99, ask.p50 / raw_rr.p50);
    row("troupe remote ask", text);

    for (int senders : {1, 8}) {
      std::int64_t before = echo.ask(Count{}).get(5s);
      auto t0 = Clock::now();
      std::vector<std::thread> threads;
      for (int s = 0; s < senders; ++s) {
        threads.emplace_back([&, s] {
          for (long i = s; i < tells; i += senders) {
            while (!echo.tell(Ping{i})) std::this_thread::yield();
          }
        });
      }
      for (auto& t : threads) t.join();
      while (echo.ask(Count{}, 30s).get(35s) - before < tells) std::this_thread::sleep_for(1ms);
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      (senders == 1 ? tell_1 : tell_8) = tells / secs;
      std::snprintf(text, sizeof text, "%.0f msg/s (%.0f %% of raw pub/sub)", tells / secs,
                    100 * tells / secs / raw_ps);
      row("troupe remote tell, " + std::to_string(senders) + " sender thread" +
              (senders > 1 ? "s" : ""),
          text);
    }
  }
  finish(far);

  // -- CAF 0.17 remoting, the peer ------------------------------------------------------------
#ifdef TROUPE_BENCH_CAF_REMOTE
  if (caf) {
    Child caf_far = spawn_self({"caf-far"});
    std::string said = first_line(caf_far);
    if (said.rfind("PORT ", 0) != 0) {
      row("CAF remoting", "n/a: the far side did not start");
    } else {
      auto r = caf_peer::measure(static_cast<std::uint16_t>(std::atoi(said.c_str() + 5)), asks,
                                 tells);
      if (!r.error.empty()) {
        row("CAF remoting", "n/a: " + r.error);
      } else {
        std::snprintf(text, sizeof text,
                      "p50 %.1f us, p99 %.1f us (%.2fx the raw p50; troupe/CAF p50 %.2f)",
                      r.ask_p50_us, r.ask_p99_us, r.ask_p50_us / raw_rr.p50,
                      ask.p50 / r.ask_p50_us);
        row("CAF remoting ask", text);
        std::snprintf(text, sizeof text, "%.0f msg/s (troupe/CAF %.2f)", r.tell_1,
                      tell_1 / r.tell_1);
        row("CAF remoting tell, 1 sender thread", text);
        std::snprintf(text, sizeof text, "%.0f msg/s (troupe/CAF %.2f)", r.tell_8,
                      tell_8 / r.tell_8);
        row("CAF remoting tell, 8 sender threads", text);
      }
    }
    finish(caf_far);
  }
#else
  if (caf) row("CAF remoting", "n/a: built without CAF's libcaf_io");
#endif
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  std::filesystem::remove_all(dir);

  std::printf("| measurement | result |\n|---|---|\n");
  for (auto& [k, v] : rows) std::printf("| %s | %s |\n", k.c_str(), v.c_str());
  if (!json.empty()) {
    std::ofstream out(json);
    out << "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      out << (i ? "," : "") << "{\"measurement\":\"" << rows[i].first << "\",\"result\":\""
          << rows[i].second << "\"}";
    }
    out << "]\n";
  }
  return 0;
}
