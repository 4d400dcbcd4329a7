// bench/report.cpp - the human table and the JSON array.
#include "report.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>

namespace bench {

std::optional<double> RowResult::ratio() const {
  if (!troupe || !caf || *troupe <= 0) return std::nullopt;
  return *caf / *troupe;
}

std::optional<bool> RowResult::goal_met() const {
  if (row->min_ratio > 0) {
    auto r = ratio();
    if (!r) return std::nullopt;
    return *r >= row->min_ratio;
  }
  if (row->max_troupe > 0) {
    if (!troupe) return std::nullopt;
    return *troupe <= row->max_troupe;
  }
  return std::nullopt;
}

std::string human(double value) {
  char buf[64];
  double magnitude = std::fabs(value);
  int decimals = magnitude >= 1000 ? 0 : magnitude >= 100 ? 1 : magnitude >= 10 ? 2 : 3;
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

namespace {

std::string cell(const std::optional<double>& v, bool failed) {
  return failed ? "FAILED" : v ? human(*v) : "n/a";
}

std::string goal_text(const RowResult& r) {
  if (r.row->goal.empty()) return "";
  auto met = r.goal_met();
  std::string verdict = !met ? "?" : *met ? "met" : "MISSED";
  return std::string(r.row->goal) + "  " + verdict;
}

/// A JSON number, or null.
std::string json_number(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", *v);
  return buf;
}

}  // namespace

void print_table(std::FILE* out, const RunInfo& info, const std::vector<RowResult>& rows) {
  std::fprintf(out, "\n%s vs %s: %u workers, scale %g, medians of %u alternating rep%s\n",
               info.troupe_version.c_str(), info.caf_version.c_str(), info.workers, info.scale,
               info.reps, info.reps == 1 ? "" : "s");
  if (info.batch != 64) {
    std::fprintf(out, "troupe's per-turn batch: %u (not the runtime's default of 64)\n", info.batch);
  }
  std::fprintf(out, "load average (1 min) %.2f at the start, %.2f at the end\n\n", info.load_before,
               info.load_after);
  std::fprintf(out, "%-12s %-9s %12s %12s %11s  %s\n", "workload", "unit", "troupe", "CAF",
               "CAF/troupe", "goal");
  std::fprintf(out, "%-12s %-9s %12s %12s %11s  %s\n", "--------", "----", "------", "---",
               "----------", "----");
  for (const RowResult& r : rows) {
    auto ratio = r.ratio();
    char ratio_text[32] = "n/a";
    if (ratio) std::snprintf(ratio_text, sizeof ratio_text, "%.2fx", *ratio);
    std::fprintf(out, "%-12.*s %-9.*s %12s %12s %11s  %s\n", static_cast<int>(r.row->name.size()),
                 r.row->name.data(), static_cast<int>(r.row->unit.size()), r.row->unit.data(),
                 cell(r.troupe, r.troupe_failed).c_str(), cell(r.caf, r.caf_failed).c_str(),
                 ratio_text, goal_text(r).c_str());
  }
  std::fprintf(out, "\nCAF/troupe above 1 means troupe is faster (or smaller).\n");
}

bool write_json(const std::string& path, const std::vector<RowResult>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "troupe-bench: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::fprintf(f, "[\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const RowResult& r = rows[i];
    std::fprintf(f,
                 "  {\"workload\": \"%.*s\", \"unit\": \"%.*s\", \"troupe\": %s, \"caf\": %s, "
                 "\"ratio\": %s}%s\n",
                 static_cast<int>(r.row->name.size()), r.row->name.data(),
                 static_cast<int>(r.row->unit.size()), r.row->unit.data(),
                 json_number(r.troupe).c_str(), json_number(r.caf).c_str(),
                 json_number(r.ratio()).c_str(), i + 1 < rows.size() ? "," : "");
  }
  std::fprintf(f, "]\n");
  bool ok = std::ferror(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) std::fprintf(stderr, "troupe-bench: error while writing %s\n", path.c_str());
  return ok;
}

}  // namespace bench
