// internal/cycles.hpp - cycle_count(): the CPU's time-stamp counter, for timing a single
// instruction sequence without a system call. Never installed.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace troupe::detail {

#if defined(__x86_64__) || defined(__i386__)
/// Whether cycle_count() counts: on x86 the invariant time-stamp counter, a few cycles to
/// read and steady across cores on anything made this century.
inline constexpr bool kHaveCycleCount = true;
inline std::uint64_t cycle_count() noexcept { return __rdtsc(); }
#else
/// Elsewhere no counter is read (what measures with it then measures nothing).
inline constexpr bool kHaveCycleCount = false;
inline std::uint64_t cycle_count() noexcept { return 0; }
#endif

}  // namespace troupe::detail
