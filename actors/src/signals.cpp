// signals.cpp - SignalHandler: the async-signal-safe handler and the thread that reacts.
//
// The handler touches only lock-free atomics, write(2) and _exit(2), all async-signal-safe.
// It counts signals: the first writes the signal number to a self-pipe, a second exits.
// The reacting thread blocks in read(2) on the pipe; the destructor wakes it with a 0 byte.
#include "troupe/signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "troupe/detail/state.hpp"
#include "troupe/system.hpp"

namespace troupe {

namespace {

std::atomic<bool> g_installed{false};  // one SignalHandler at a time
std::atomic<int> g_write_fd{-1};
std::atomic<int> g_count{0};
std::atomic<int> g_exit_status{130};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

extern "C" void on_signal(int signo) {
  int saved_errno = errno;
  if (g_count.fetch_add(1, std::memory_order_acq_rel) >= 1) {
    _exit(g_exit_status.load(std::memory_order_relaxed));  // the second signal: exit now
  }
  int fd = g_write_fd.load(std::memory_order_acquire);
  if (fd >= 0) {
    auto byte = static_cast<unsigned char>(signo);
    ssize_t written = write(fd, &byte, 1);  // non-blocking; a full pipe already woke the thread
    (void)written;
  }
  errno = saved_errno;
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

SignalHandler::SignalHandler(System& system, SignalOptions options)
    : system_(system), options_(std::move(options)), stop_(system) {
  if (g_installed.exchange(true, std::memory_order_acq_rel)) {
    throw std::logic_error("troupe::SignalHandler: another SignalHandler is already installed");
  }
  try {
    for (int signo : options_.signals) {
      if (signo <= 0 || signo > 255)
        throw std::invalid_argument("SignalHandler: bad signal number");
    }
    if (pipe2(pipe_, O_CLOEXEC) != 0) throw_errno("SignalHandler: pipe2");
    if (fcntl(pipe_[1], F_SETFL, O_NONBLOCK) != 0) throw_errno("SignalHandler: fcntl");
    g_count.store(0, std::memory_order_relaxed);
    g_exit_status.store(options_.force_exit_status, std::memory_order_relaxed);
    g_write_fd.store(pipe_[1], std::memory_order_release);
    thread_ = std::thread([this] { run(); });

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    previous_.reserve(options_.signals.size());
    for (int signo : options_.signals) {
      struct sigaction old {};
      if (sigaction(signo, &action, &old) != 0) throw_errno("SignalHandler: sigaction");
      previous_.push_back(old);
    }
  } catch (...) {
    for (std::size_t i = 0; i < previous_.size(); ++i) {
      sigaction(options_.signals[i], &previous_[i], nullptr);
    }
    if (thread_.joinable()) {
      unsigned char stop = 0;
      ssize_t written = write(pipe_[1], &stop, 1);
      (void)written;
      thread_.join();
    }
    g_write_fd.store(-1, std::memory_order_release);
    for (int fd : pipe_) {
      if (fd >= 0) close(fd);
    }
    g_installed.store(false, std::memory_order_release);
    throw;
  }
}

SignalHandler::~SignalHandler() {
  unsigned char stop = 0;
  for (;;) {  // the pipe has room unless a flood of signals filled it; then retry
    ssize_t written = write(pipe_[1], &stop, 1);
    if (written == 1 || (written < 0 && errno != EAGAIN && errno != EINTR)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thread_.join();  // waits out a shutdown in progress
  for (std::size_t i = 0; i < previous_.size(); ++i) {
    sigaction(options_.signals[i], &previous_[i], nullptr);
  }
  g_write_fd.store(-1, std::memory_order_release);
  close(pipe_[0]);
  close(pipe_[1]);
  g_installed.store(false, std::memory_order_release);
}

int SignalHandler::received() const noexcept {
  std::lock_guard lock(mutex_);
  return received_;
}

bool SignalHandler::wait_shutdown(std::chrono::milliseconds timeout) {
  if (detail::must_not_block()) {
    throw WouldDeadlock("SignalHandler::wait_shutdown called on a worker thread");
  }
  std::unique_lock lock(mutex_);
  return ended_.wait_for(lock, timeout, [&] { return shut_down_; });
}

void SignalHandler::run() {
  for (;;) {
    unsigned char byte = 0;
    ssize_t n = read(pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;  // the destructor's stop byte (or a broken pipe)
    {
      std::lock_guard lock(mutex_);
      if (received_ != 0) continue;  // only the first signal gets here; be safe anyway
      received_ = byte;
    }
    try {
      stop_.set();
    } catch (...) {  // out of memory: the shutdown below still stops everything
      std::fputs("troupe: out of memory: the stop event was not set\n", stderr);
    }
    try {
      system_.shutdown(options_.deadline, options_.mode);
    } catch (...) {  // on a worker thread, or out of memory: the destructor tries again
      std::fputs("troupe: the signal handler's shutdown failed\n", stderr);
    }
    {
      std::lock_guard lock(mutex_);
      shut_down_ = true;
    }
    ended_.notify_all();
  }
}

}  // namespace troupe
