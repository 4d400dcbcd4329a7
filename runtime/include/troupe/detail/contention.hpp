// troupe/detail/contention.hpp - note_contention: how the system actors' locks tell the
// pool that two workers met on them. Not public API.
#pragma once

#include "troupe/export.hpp"

namespace troupe::detail {

/// Counts one lock found taken by another thread, against the pool worker this runs on (a
/// hint for gathering: internal/scheduler.hpp). Nothing on other threads. Never blocks;
/// call it on the slow path only.
TROUPE_API void note_contention() noexcept;

}  // namespace troupe::detail
