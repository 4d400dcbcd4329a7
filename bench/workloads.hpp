// bench/workloads.hpp - the workloads of the suite, and each peer's implementation of them.
//
// Every workload has one or two rows (spawn: ns per spawn and bytes per actor; ask: p50 and
// p99). A peer lists the workloads it implements by name; one it does not list shows as
// "n/a" (CAF has no "floor": that is the bare queue troupe's own run queue is made of).
#pragma once

#include <span>
#include <string_view>

#include "harness.hpp"

namespace troupe {
class System;
}

namespace bench {

/// One line of the output table and one object of the JSON array.
struct Row {
  std::string_view name;  ///< JSON "workload"
  std::string_view unit;  ///< JSON "unit"
  /// The goal of issue 6 for this row, as text for the table ("" = none).
  std::string_view goal;
  /// Goal on the ratio CAF/troupe (0 = none).
  double min_ratio = 0;
  /// Goal on troupe's own value, in the row's unit (0 = none).
  double max_troupe = 0;
};

/// A workload of the suite.
struct Workload {
  std::string_view name;         ///< as given to --only
  std::string_view description;  ///< for --help
  std::span<const Row> rows;     ///< one value of a Sample per row
};

/// Every workload, in the order the suite runs them.
std::span<const Workload> workloads();

/// Runs one workload once; returns one value per row. A wrong result ends the process
/// (wrong_result); other failures throw.
using RunFn = Sample (*)(const Config&);

/// One workload as a peer implements it.
struct Entry {
  std::string_view workload;  ///< a Workload::name
  RunFn run;
};

/// An implementation of the suite on one runtime.
struct Peer {
  std::string_view name;        ///< "troupe" or "CAF"
  std::string_view version;     ///< what was measured, printed above the table
  std::span<const Entry> runs;  ///< empty when the peer was not built in

  /// The peer's run function for `workload`, or null.
  RunFn find(std::string_view workload) const {
    for (const Entry& e : runs) {
      if (e.workload == workload) return e.run;
    }
    return nullptr;
  }
};

/// queue_workloads.cpp: the system actors' workloads (issue 14), troupe only.
extern const Entry kQueueRuns[];
extern const std::size_t kQueueRunCount;
/// With BENCH_STATS set in the environment, a troupe run's scheduler counters (sleeps,
/// steals, migrations, gathers) go to stderr, labelled `what` (for tuning). In
/// queue_workloads.cpp; takes a troupe::System.
void print_stats(const char* what, const troupe::System& system);

/// troupe_workloads.cpp (and floor.cpp for the raw queue).
Peer troupe_peer();
/// caf_workloads.cpp, or caf_absent.cpp when CAF is not installed.
Peer caf_peer();

/// The raw moodycamel ConcurrentQueue floor: ns per item, one producer and one consumer.
Sample run_floor(const Config& config);

}  // namespace bench
