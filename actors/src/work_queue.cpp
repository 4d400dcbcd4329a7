// work_queue.cpp - the non-template part of WorkQueue<T>: its error messages.
#include "troupe/work_queue.hpp"

#include "troupe/usage_error.hpp"

namespace troupe::detail {

std::exception_ptr queue_full_error(const std::string& label, std::size_t capacity) noexcept {
  try {
    return make_error<QueueFull>(label + " is full (capacity " + std::to_string(capacity) +
                                 "): the item was not put");
  } catch (...) {
    return std::current_exception();
  }
}

std::exception_ptr put_timeout_error(const std::string& label, Clock::duration waited) noexcept {
  try {
    return make_error<TimeoutError>(label + " stayed full for " + describe_duration(waited) +
                                    ": the item was not put");
  } catch (...) {
    return std::current_exception();
  }
}

std::exception_ptr get_timeout_error(const std::string& label, Clock::duration waited) noexcept {
  try {
    if (waited <= Clock::duration::zero()) return make_error<TimeoutError>(label + " is empty");
    return make_error<TimeoutError>(label + " stayed empty for " + describe_duration(waited));
  } catch (...) {
    return std::current_exception();
  }
}

std::exception_ptr task_done_error(const std::string& label) noexcept {
  try {
    return make_error<UsageError>("task_done called on " + label +
                                  " more times than items were put");
  } catch (...) {
    return std::current_exception();
  }
}

std::exception_ptr queue_stopped_error(const char* what, const std::string& label) noexcept {
  try {
    return make_error<Cancelled>(std::string(what) + " " + label +
                                 " cancelled: the queue stopped (the system is shutting down)");
  } catch (...) {
    return std::current_exception();
  }
}

}  // namespace troupe::detail
