// tests/cluster/servers.hpp - what the cluster queue tests run: nats-server with JetStream
// (one, or a three-server NATS cluster) on free loopback ports with stores in temp dirs,
// and worker processes (queue_main). Builds on tests/remote/cluster.hpp.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../remote/cluster.hpp"

namespace cq_test {

/// A temporary directory, removed with what it holds.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/troupe-cq-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Marks every descriptor of this process above stderr close-on-exec, so that children
/// started later (a restarted nats-server, the next worker) do not inherit the pipes to
/// earlier ones: a worker sees EOF on its stdin only when no process holds the other end.
/// What pipe2(O_CLOEXEC) would do, for cluster::Process (tests/remote/cluster.hpp), whose
/// pipe() is not ours to change: every helper here calls it right after starting a process
/// (processes are started from one thread, so no fork falls between).
inline void keep_pipes_private() {
  for (auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(entry.path().filename().c_str());
    if (fd > 2) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  }
}

/// One nats-server with JetStream, its store in a temp dir (kept across restart()).
class JetStream {
 public:
  JetStream() : server_({"-js", "-sd", store_ / "store"}) { keep_pipes_private(); }
  std::string url() const { return server_.url(); }
  void stop() { server_.stop(); }
  void start() {
    server_.start();
    keep_pipes_private();
  }

 private:
  TempDir store_;
  cluster::NatsServer server_;
};

/// A loopback port free right now (bound, read, released: another process could take it).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

/// Three nats-servers routed into one NATS cluster, JetStream on each.
class ThreeServers {
 public:
  ThreeServers() {
    std::vector<int> ports{free_port(), free_port(), free_port()};
    std::string routes;
    for (int p : ports)
      routes += (routes.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(p));
    for (int i = 0; i < 3; ++i) {
      servers_.push_back(std::make_unique<cluster::NatsServer>(std::vector<std::string>{
          "-js", "-sd", store_ / ("s" + std::to_string(i)), "--server_name",
          "s" + std::to_string(i), "--cluster_name", "troupe-cq", "--cluster",
          "nats://127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(i)]), "--routes",
          routes}));
      keep_pipes_private();
    }
  }
  std::vector<std::string> urls() const {
    std::vector<std::string> out;
    for (auto& s : servers_) out.push_back(s->url());
    return out;
  }
  void stop(std::size_t i) { servers_[i]->stop(); }

 private:
  TempDir store_;
  std::vector<std::unique_ptr<cluster::NatsServer>> servers_;
};

inline std::string join(const std::vector<std::string>& urls) {
  std::string out;
  for (auto& u : urls) out += (out.empty() ? "" : ",") + u;
  return out;
}

#ifdef TROUPE_QUEUE_MAIN  // the cluster tests' worker program (tests/cluster/meson.build)
/// A worker process (queue_main) taking leases of queue `name`.
inline std::unique_ptr<cluster::Process> worker(const std::vector<std::string>& urls,
                                                const std::string& name, const std::string& out,
                                                int ack_wait_ms, int max_deliver, int slow_ms,
                                                int replicas = 1) {
  auto w = std::make_unique<cluster::Process>(std::vector<std::string>{
      TROUPE_QUEUE_MAIN, "work", join(urls), name, out, std::to_string(ack_wait_ms),
      std::to_string(max_deliver), std::to_string(slow_ms), std::to_string(replicas)});
  keep_pipes_private();
  return w;
}
#endif

/// Ends the workers (closes their stdins) and says how each left: "ok" for exit status 0 within 20 s
/// (a sanitizer report makes the status non-zero), else what happened. Null entries (a
/// worker the test killed) are skipped.
inline std::vector<std::string> finish(std::vector<std::unique_ptr<cluster::Process>>& workers) {
  for (auto& w : workers) {
    if (w) w->close_stdin();
  }
  std::vector<std::string> out;
  for (auto& w : workers) {
    if (!w) continue;
    if (!w->wait_exit(std::chrono::seconds(20))) {
      out.push_back("still running after 20 s");
    } else if (WIFSIGNALED(w->status())) {
      out.push_back("killed by signal " + std::to_string(WTERMSIG(w->status())));
    } else if (WEXITSTATUS(w->status()) != 0) {
      out.push_back("exit status " + std::to_string(WEXITSTATUS(w->status())));
    } else {
      out.push_back("ok");
    }
  }
  return out;
}

/// How many times each number appears in the files (the workers' records of work done).
inline std::map<long long, int> tally(const std::vector<std::string>& files) {
  std::map<long long, int> seen;
  for (auto& f : files) {
    std::ifstream in(f);
    long long n;
    while (in >> n) ++seen[n];
  }
  return seen;
}

}  // namespace cq_test
