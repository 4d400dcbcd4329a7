// tests/stress/stress.hpp - sizes and a watchdog shared by the stress tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace stress {

/// Full sizes in normal builds; sanitizers run the same code on fewer iterations.
#if defined(TROUPE_SANITIZED)
inline constexpr long kScaleDown = 50;
#else
inline constexpr long kScaleDown = 1;
#endif

inline long scaled(long full) { return full / kScaleDown > 0 ? full / kScaleDown : 1; }

/// Fails the whole test program, loudly, if the guarded scope hangs past `limit`.
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds limit)
      : what_(std::move(what)), thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            std::fprintf(stderr, "WATCHDOG: '%s' still running after %lld s: a hang\n",
                         what_.c_str(), static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace stress
