// bench/caf_absent.cpp - built instead of caf_workloads.cpp when CAF is not installed:
// the suite still runs, with "n/a" in the CAF column (install libcaf-dev to compare).
#include "workloads.hpp"

namespace bench {

Peer caf_peer() { return {"CAF", "CAF (not built: libcaf-dev missing)", {}}; }

}  // namespace bench
