// errors.cpp - describing exceptions for people.
#include "troupe/errors.hpp"

#include "internal/check.hpp"
#include "internal/demangle.hpp"

#include <cxxabi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <typeinfo>

namespace troupe {

namespace detail {
namespace {
std::atomic<std::uint64_t> loss_count{0};
// Made while memory is plentiful (at load time), handed out when it is not.
const std::exception_ptr kLostReason = std::make_exception_ptr(
    Error("the actor failed, but its reason was lost (out of memory while recording it)"));
}  // namespace

void report_loss(const char* what) noexcept {
  loss_count.fetch_add(1, std::memory_order_relaxed);
  std::fputs("troupe: out of memory: ", stderr);
  std::fputs(what, stderr);
  std::fputs(" was lost\n", stderr);
}

std::exception_ptr lost_reason() noexcept { return kLostReason; }

void check_failed(const char* condition, const char* file, int line, const char* why) noexcept {
  std::fprintf(stderr, "troupe: internal invariant broken at %s:%d: %s (%s)\n", file, line,
               why, condition);
  std::abort();
}

std::string demangle(const std::type_info& type) {
  int status = 0;
  char* raw = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && raw != nullptr ? raw : type.name();
  std::free(raw);
  return out;
}
}  // namespace detail

std::uint64_t losses() noexcept { return detail::loss_count.load(std::memory_order_relaxed); }

namespace {
thread_local std::exception_ptr tls_described;  // what describe_ahead described, if anything
thread_local std::string tls_description;
}  // namespace

namespace detail {
void describe_ahead(const std::exception_ptr& error) noexcept {
  forget_description();
  try {
    tls_description = describe(error);
    tls_described = error;
  } catch (...) {
    // Out of memory: describe() reads the exception itself later.
  }
}

void forget_description() noexcept {
  tls_described = nullptr;
  tls_description.clear();
}
}  // namespace detail

std::string describe(const std::exception_ptr& error) noexcept {
  if (!error) return "none";
  if (error == tls_described) {
    try {
      return tls_description;
    } catch (...) {
      return "exception (could not be described)";
    }
  }
  try {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return detail::demangle(typeid(e)) + ": " + e.what();
    } catch (const std::string& s) {
      return "std::string: " + s;
    } catch (const char* s) {
      return std::string("const char*: ") + s;
    } catch (int n) {
      return "int: " + std::to_string(n);
    } catch (...) {
      std::type_info* t = abi::__cxa_current_exception_type();
      return std::string("exception of type ") + (t != nullptr ? t->name() : "unknown");
    }
  } catch (...) {
    return "exception (could not be described)";
  }
}

}  // namespace troupe
