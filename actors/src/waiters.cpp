// waiters.cpp - the helpers every system actor shares (troupe/detail/waiters.hpp).
#include "troupe/detail/waiters.hpp"

#include <cstdio>

#include "troupe/actor.hpp"

namespace troupe::detail {

std::string describe_duration(Clock::duration d) {
  if (!has_timeout(d)) return "forever";
  using std::chrono::duration;
  double ms = std::chrono::duration_cast<duration<double, std::milli>>(d).count();
  char text[48];
  if (ms >= 1000.0) {
    std::snprintf(text, sizeof text, "%g s", ms / 1000.0);
  } else {
    std::snprintf(text, sizeof text, "%g ms", ms);
  }
  return text;
}

std::string label(std::string_view kind, std::string_view name) {
  if (name.empty()) return "an unnamed " + std::string(kind);
  return std::string(kind) + " '" + std::string(name) + "'";
}

Anchor::~Anchor() { actor_.stop(StopMode::drain); }

}  // namespace troupe::detail
