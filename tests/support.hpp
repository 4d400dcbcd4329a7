// tests/support.hpp - what many test files share: waiting for a condition without sleeping
// a fixed time, and naming how a future ended.
#pragma once

#include <cxxabi.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>

#include <memory>

#include <troupe/clock.hpp>
#include <troupe/future.hpp>
#include <troupe/system.hpp>

namespace support {

/// What a test waits at most for something that should happen; never reached when it works.
inline constexpr std::chrono::milliseconds kPatience{10'000};

/// Polls `done` every millisecond until it holds or `limit` passes; returns its last value.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = kPatience) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// The unqualified name of a troupe error ("Cancelled", "TimeoutError", ...), or
/// "other: <what>" for anything else.
inline std::string error_name(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    int status = 0;
    char* raw = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
    std::string type = status == 0 && raw != nullptr ? raw : "";
    std::free(raw);
    constexpr std::string_view kTroupe = "troupe::";
    if (type.rfind(kTroupe, 0) == 0 && type.find("::", kTroupe.size()) == std::string::npos) {
      return type.substr(kTroupe.size());
    }
    return std::string("other: ") + e.what();
  } catch (...) {
    return "other: not a std::exception";
  }
}

/// How `f` ended within kPatience: "value" ("true"/"false" for a bool), "not ready", or
/// the name of the error it failed with (see error_name).
template <class R>
std::string outcome(const troupe::Future<R>& f) {
  f.wait_for(kPatience);
  if (!f.ready()) return "not ready";
  if (f.error()) return error_name(f.error());
  if constexpr (std::is_same_v<R, bool>) {
    return f.get() ? "true" : "false";
  } else {
    return "value";
  }
}

/// A two-worker system on a clock the test advances by hand. Derive a fixture from it.
struct ClockedSystem {
  std::shared_ptr<troupe::ManualClock> clock = std::make_shared<troupe::ManualClock>();
  troupe::System system{{.workers = 2, .clock = clock}};
};

}  // namespace support
