// tests/remote/cluster.hpp - what the remote tests run: a nats-server of their own on a
// free loopback port, and other OS processes (node_main) whose stdout they read by lines.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cluster {

/// Forks and execs argv with stdin and stdout on pipes (stderr inherited); the child dies
/// with the test (PR_SET_PDEATHSIG).
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv) {
    int in[2], out[2];
    // Close-on-exec: a later child must not inherit this one's pipe ends (it would keep
    // this child's stdin open after the test closes it).
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    close_stdin();
    if (pid_ > 0 && !exited_) {
      // Give it a moment to leave on its own (stdin closed), then kill it.
      if (!wait_exit(std::chrono::milliseconds(3000))) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    if (stdout_ >= 0) close(stdout_);
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) { kill(pid_, sig); }
  /// Writes `text` and a newline to its stdin.
  void write_line(const std::string& text) {
    std::string out = text + "\n";
    if (stdin_ < 0 || ::write(stdin_, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
      throw std::runtime_error("cannot write to the process's stdin");
    }
  }
  void close_stdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }

  /// The next line of its stdout, or nothing if none came within `limit`.
  std::optional<std::string> line(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string out = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return out;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(stdout_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;  // closed
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// The first line starting with `prefix` (others are skipped), or "" after `limit`.
  std::string wait_for(const std::string& prefix,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      auto l = line(left);
      if (!l) return "";
      if (l->rfind(prefix, 0) == 0) return *l;
      if (l->rfind("ERROR", 0) == 0) return *l;
    }
  }
  /// Waits up to `limit` for it to exit; true if it did.
  bool wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = status;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string buffer_;
};

/// Whether a NatsServer runs JetStream (`-js`, its store in the server's temp directory).
enum class JetStream { off, on };

/// A nats-server of the test's own: loopback, a free port (never 4222), stopped after.
class NatsServer {
 public:
  explicit NatsServer(std::vector<std::string> extra = {}, JetStream js = JetStream::off)
      : extra_(std::move(extra)) {
    char dir[] = "/tmp/troupe-nats-XXXXXX";
    if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    if (js == JetStream::on) extra_.insert(extra_.end(), {"-js", "-sd", dir_ + "/js"});
    start();
  }
  explicit NatsServer(JetStream js) : NatsServer({}, js) {}
  ~NatsServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  /// Starts it (again, on the same port once it has one); waits until it listens.
  void start() {
    for (auto& f : std::filesystem::directory_iterator(dir_)) {
      if (f.path().extension() == ".ports") std::filesystem::remove(f.path());
    }
    std::vector<std::string> argv{"nats-server",
                                  "-a",
                                  "127.0.0.1",
                                  "-p",
                                  port_ == 0 ? "-1" : std::to_string(port_),
                                  "--ports_file_dir",
                                  dir_,
                                  "--log",
                                  dir_ + "/server.log"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    process_.emplace(argv);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& f : std::filesystem::directory_iterator(dir_)) {
        if (f.path().extension() != ".ports") continue;
        std::ifstream in(f.path());
        std::stringstream text;
        text << in.rdbuf();
        auto s = text.str();
        auto at = s.find("127.0.0.1:");
        if (at != std::string::npos && s.find(']') != std::string::npos) {
          port_ = std::atoi(s.c_str() + at + 10);
          if (port_ > 0) return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("nats-server did not start (is it installed? scripts/bootstrap)");
  }
  /// Freezes it (SIGSTOP): connections stay open, nothing is read or answered.
  void pause() { process_->signal(SIGSTOP); }
  /// Thaws it (SIGCONT).
  void resume() { process_->signal(SIGCONT); }
  /// Stops it (SIGTERM, then SIGKILL) and waits for it to exit.
  void stop() {
    if (!process_) return;
    process_->signal(SIGTERM);
    if (!process_->wait_exit(std::chrono::seconds(5))) process_->signal(SIGKILL);
    process_.reset();
  }

 private:
  std::vector<std::string> extra_;
  std::string dir_;
  int port_ = 0;
  std::optional<Process> process_;
};

}  // namespace cluster
