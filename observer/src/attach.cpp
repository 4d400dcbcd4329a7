// attach.cpp - the entry points TROUPE_OBSERVE uses (runtime/src/observe.cpp finds them
// with dlsym): an Observer made from the variable's text, as an opaque handle.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "troupe/export.hpp"
#include "troupe/observer.hpp"

namespace {

/// Reads "host:port", ":port", "port" or "[v6]:port" into `o`; false if malformed.
bool parse_spec(const std::string& spec, troupe::ObserverOptions& o) {
  std::string host;
  std::string port = spec;
  if (!spec.empty() && spec.front() == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return false;
    }
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  o.port = std::stoi(port);
  if (o.port > 65535) return false;
  if (!host.empty()) o.bind = host;
  return true;
}

}  // namespace

extern "C" {

/// Attaches an Observer to `system` as `spec` says (TROUPE_OBSERVE's value); the token, if
/// any, comes from TROUPE_OBSERVE_TOKEN. Returns the handle, or null with `error` filled.
TROUPE_API void* troupe_observer_attach(troupe::System* system, const char* spec, char* error,
                                        unsigned long size) noexcept {
  troupe::ObserverOptions options;
  if (!parse_spec(spec, options)) {
    std::snprintf(error, size, "expected host:port, :port or port (e.g. 127.0.0.1:9100, :0)");
    return nullptr;
  }
  if (const char* token = std::getenv("TROUPE_OBSERVE_TOKEN")) options.token = token;
  try {
    return new troupe::Observer(*system, options);
  } catch (const std::exception& e) {
    std::snprintf(error, size, "%s", e.what());
  } catch (...) {
    std::snprintf(error, size, "cannot start the observer");
  }
  return nullptr;
}

/// Stops and frees what troupe_observer_attach returned.
TROUPE_API void troupe_observer_detach(void* handle) noexcept {
  delete static_cast<troupe::Observer*>(handle);
}

}  // extern "C"
