// internal/current.hpp - which actor's turn (or constructor) runs on this thread.
// Never installed.
#pragma once

#include "troupe/detail/cell.hpp"

namespace troupe::detail {

// initial-exec: a plain %fs-relative load instead of a call to __tls_get_addr per access.
// Defined in turn.cpp.
/// The cell whose turn runs on this thread (current_cell()).
[[gnu::tls_model("initial-exec")]] extern thread_local Cell* tls_cell;
/// The cell an Actor constructor on this thread binds to (ConstructionScope).
[[gnu::tls_model("initial-exec")]] extern thread_local Cell* tls_constructing;

}  // namespace troupe::detail
