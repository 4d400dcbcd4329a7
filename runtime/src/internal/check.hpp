// internal/check.hpp - TROUPE_ASSERT: invariants the runtime states and, in debug and
// sanitizer builds, checks. Never installed.
//
// On (TROUPE_CHECKS defined by meson) for buildtype=debug and for every sanitizer build;
// off in release and debugoptimized, where the condition is not even evaluated. A failed
// check prints the condition, the file and line and a sentence on stderr, then aborts:
// an invariant that does not hold means the runtime's own state is corrupt.
#pragma once

#include <exception>

namespace troupe::detail {
[[noreturn]] void check_failed(const char* condition, const char* file, int line,
                               const char* why) noexcept;

/// Something the runtime had to drop for want of memory (`what`: "a Down for a watcher"):
/// counted (troupe::losses()) and said on stderr, without allocating. Never a silent
/// swallow: every `catch (...)` that gives something up calls this.
void report_loss(const char* what) noexcept;

/// The reason a failed actor reports when its real reason could not be stored (out of
/// memory): it still reads as a failure, never as a clean stop.
std::exception_ptr lost_reason() noexcept;
}  // namespace troupe::detail

#ifdef TROUPE_CHECKS
#define TROUPE_ASSERT(condition, why)                                                    \
  ((condition) ? static_cast<void>(0)                                                    \
               : ::troupe::detail::check_failed(#condition, __FILE__, __LINE__, why))
#else
#define TROUPE_ASSERT(condition, why) static_cast<void>(0)
#endif
