// troupe/detail/job.hpp - a function submitted to the worker pool. Not public API.
#pragma once

#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

#include "troupe/detail/cell.hpp"
#include "troupe/future.hpp"

namespace troupe::detail {

/// A one-shot piece of work on the pool: runs once, answers its future, deletes itself.
class TROUPE_API JobBase : public Runnable {
 public:
  explicit JobBase(Core& core) noexcept : core_(&core) {}
  void run() noexcept final;  // runs or (past the shutdown deadline) cancels, then deletes
  /// Fails the job's future with ShutdownError without running it, then deletes it.
  void abandon() noexcept;

 protected:
  virtual ~JobBase() = default;
  virtual void execute() noexcept = 0;
  virtual void cancel(std::exception_ptr why) noexcept = 0;

 private:
  Core* core_;
};

template <class R, class Fn>
class Job final : public JobBase {
 public:
  Job(Core& core, Promise<R> promise, Fn fn)
      : JobBase(core), promise_(std::move(promise)), fn_(std::move(fn)) {}

 private:
  void execute() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        fn_();
        promise_.set_value();
      } else {
        promise_.set_value(fn_());
      }
    } catch (...) {
      promise_.set_exception(std::current_exception());
    }
  }
  void cancel(std::exception_ptr why) noexcept override { promise_.set_exception(why); }

  Promise<R> promise_;
  Fn fn_;
};

}  // namespace troupe::detail
