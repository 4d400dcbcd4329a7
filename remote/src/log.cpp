// remote/src/log.cpp - the node's rate-limited log (drops, faults, membership news).
#include <cstdarg>
#include <cstdio>

#include "internal/node_core.hpp"

namespace troupe::detail::remote {

void NodeCore::log(const char* format, ...) {
  if (!options.log_drops) return;
  std::lock_guard lock(log_mu);
  auto now = SteadyClock::now();
  if (now - log_window >= std::chrono::seconds(1)) {
    if (log_suppressed > 0) {
      std::fprintf(stderr, "troupe node %s: %llu more lines suppressed\n", name.c_str(),
                   static_cast<unsigned long long>(log_suppressed));
    }
    log_window = now;
    log_lines = 0;
    log_suppressed = 0;
  }
  if (++log_lines > 5) {
    ++log_suppressed;
    return;
  }
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  std::fprintf(stderr, "troupe node %s: %s\n", name.c_str(), line);
}

}  // namespace troupe::detail::remote
