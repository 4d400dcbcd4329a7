// bench/report.hpp - the results of a suite run: the human table and the JSON array.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "workloads.hpp"

namespace bench {

/// The medians of one row over the repetitions; empty where a peer has no value.
struct RowResult {
  const Row* row = nullptr;
  std::optional<double> troupe;
  std::optional<double> caf;
  bool troupe_failed = false;  ///< a run failed: shown as FAILED, written as null
  bool caf_failed = false;

  /// CAF / troupe (above 1: troupe is faster or smaller), when both are there.
  std::optional<double> ratio() const;
  /// Whether the row's goal is met; empty when it has no goal or a value is missing.
  std::optional<bool> goal_met() const;
};

/// What the table's header line says about the run.
struct RunInfo {
  unsigned workers = 0;
  unsigned batch = 64;  // troupe's messages per turn
  double scale = 1;
  unsigned reps = 0;
  double load_before = -1;  ///< 1-minute load average when the suite started
  double load_after = -1;   ///< ... and when it ended
  std::string troupe_version;
  std::string caf_version;
};

/// Prints the table: workload, unit, troupe, CAF, CAF/troupe, goal.
void print_table(std::FILE* out, const RunInfo& info, const std::vector<RowResult>& rows);

/// Writes `[{"workload": ..., "unit": ..., "troupe": x, "caf": y, "ratio": y/x}, ...]`,
/// with null for a missing value. Returns false (and says why on stderr) if it cannot.
bool write_json(const std::string& path, const std::vector<RowResult>& rows);

/// A number for people: 3 significant digits or more, no exponent.
std::string human(double value);

}  // namespace bench
