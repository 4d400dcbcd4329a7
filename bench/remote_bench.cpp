// bench/remote_bench.cpp - troupe-remote beside its floor, raw cnats, on one machine.
//
//   troupe-remote-bench [--asks N] [--tells N] [--json FILE]
//
// Starts its own nats-server on a free loopback port, and a second process of itself (the
// "far" side) that answers. Measures, in one run:
//   raw request/reply   natsConnection_Request round trips to a responder in the far process
//   raw pub/sub         one publisher connection -> a subscriber in the far process, msg/s
//   troupe ask          RemoteRef::ask round trips to an actor in the far process
//   troupe tell x1, x8  one or eight threads telling that actor, msg/s until all arrived
// Round trips are sequential (one in flight): p50 and p99 in microseconds.
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
int far_side(const std::string& url) {
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
  troupe::System system({.workers = 2});
  troupe::Node node(system, {.urls = {url}, .cluster = "bench", .name = "far", .log_drops = false});
  node.publish<EchoProtocol>(system.spawn<Echo>(), "echo");
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

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "far") return far_side(argv[2]);
  long asks = 20'000, tells = 1'000'000;
  std::string json;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--asks")
      asks = std::atol(argv[i + 1]);
    else if (a == "--tells")
      tells = std::atol(argv[i + 1]);
    else if (a == "--json")
      json = argv[i + 1];
  }
  pid_t server = -1;
  std::string dir;
  std::string url = start_server(server, dir);

  int to_far[2], from_far[2];
  if (pipe(to_far) != 0 || pipe(from_far) != 0) return 1;
  pid_t far = fork();
  if (far == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(to_far[0], 0);
    dup2(from_far[1], 1);
    for (int fd : {to_far[0], to_far[1], from_far[0], from_far[1]}) close(fd);
    execl("/proc/self/exe", "troupe-remote-bench", "far", url.c_str(), nullptr);
    _exit(127);
  }
  close(to_far[0]);
  close(from_far[1]);
  char buf[16] = {};
  if (read(from_far[0], buf, 6) != 6) return 1;  // READY

  std::vector<std::pair<std::string, std::string>> rows;
  auto row = [&](const std::string& name, const std::string& value) {
    rows.emplace_back(name, value);
    std::fprintf(stderr, "%-34s %s\n", name.c_str(), value.c_str());
  };
  char text[128];

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
    std::snprintf(text, sizeof text, "%.0f msg/s", tells / secs);
    row("raw cnats pub/sub, 1 publisher", text);
  }
  natsConnection_Destroy(nc);

  // -- troupe -------------------------------------------------------------------------------------
  {
    troupe::System system({.workers = 2});
    troupe::Node node(system,
                      {.urls = {url}, .cluster = "bench", .name = "near", .log_drops = false});
    auto echo = node.lookup<EchoProtocol>("echo").get(5s);
    us.clear();
    for (long i = 0; i < asks; ++i) {
      auto t0 = Clock::now();
      echo.ask(Ping{i}).get(5s);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    auto ask = percentiles(us);
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
      std::snprintf(text, sizeof text, "%.0f msg/s", tells / secs);
      row("troupe remote tell, " + std::to_string(senders) + " sender thread" +
              (senders > 1 ? "s" : ""),
          text);
    }
  }

  close(to_far[1]);
  waitpid(far, nullptr, 0);
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
