// bench/main.cpp - troupe-bench: runs the suite on troupe and CAF, alternating, and reports
// the medians as a table (and optionally JSON).
//
//   troupe-bench                          # everything, full scale, 5 reps, one worker per core
//   troupe-bench --scale 0.01 --reps 1    # a quick smoke run
//   troupe-bench --only pingpong,ring --json out.json
//
// Every measurement runs in a child process of its own (fork, no exec): a fresh heap for the
// resident-memory reading, no threads or caches left over from the previous run, and a
// deadline (SIGALRM) so a hung runtime fails the run instead of the suite hanging. The parent
// never starts a thread, so forking it is safe.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "report.hpp"
#include "workloads.hpp"

namespace bench {
namespace {

struct Options {
  Config config;
  unsigned reps = 5;
  std::vector<std::string> only;
  std::string json;
  bool run_troupe = true;
  bool run_caf = true;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: troupe-bench [--scale X] [--workers N] [--reps N] [--only a,b,...]\n"
               "                    [--peer troupe|caf|all] [--batch N] [--json FILE]\n\n"
               "  --scale X    multiply every workload size by X (default 1.0 = full size)\n"
               "  --workers N  worker threads for both runtimes (default: one per core)\n"
               "  --reps N     repetitions per peer; the table shows medians (default 5)\n"
               "  --only LIST  run only these workloads (comma-separated)\n"
               "  --peer P     run only one peer (for profiling); default all\n"
               "  --batch N    troupe's messages per turn (default 64, as the runtime's);\n"
               "               CAF runs with its default, an unbounded throughput per turn\n"
               "  --json FILE  also write the results as a JSON array to FILE\n\n"
               "workloads:\n");
  for (const Workload& w : workloads()) {
    std::fprintf(out, "  %-9.*s %.*s\n", static_cast<int>(w.name.size()), w.name.data(),
                 static_cast<int>(w.description.size()), w.description.data());
  }
}

[[noreturn]] void bad_usage(const std::string& why) {
  std::fprintf(stderr, "troupe-bench: %s\n\n", why.c_str());
  usage(stderr);
  std::exit(2);
}

double number(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  bad_usage(flag + " wants a number, not '" + text + "'");
}

bool known_workload(std::string_view name) {
  for (const Workload& w : workloads()) {
    if (w.name == name) return true;
  }
  return false;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) bad_usage(flag + " needs a value");
      return args[++i];
    };
    if (flag == "-h" || flag == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (flag == "--scale") {
      o.config.scale = number(flag, value());
      if (!(o.config.scale > 0)) bad_usage("--scale must be above 0");
    } else if (flag == "--workers") {
      double n = number(flag, value());
      if (n < 1 || n > 1024 || n != static_cast<unsigned>(n)) bad_usage("--workers: 1..1024");
      o.config.workers = static_cast<unsigned>(n);
    } else if (flag == "--batch") {
      double n = number(flag, value());
      if (n < 1 || n > 1e9 || n != static_cast<unsigned>(n)) bad_usage("--batch: 1..1e9");
      o.config.batch = static_cast<unsigned>(n);
    } else if (flag == "--reps") {
      double n = number(flag, value());
      if (n < 1 || n > 1000 || n != static_cast<unsigned>(n)) bad_usage("--reps: 1..1000");
      o.reps = static_cast<unsigned>(n);
    } else if (flag == "--only") {
      std::string list = value();
      for (std::size_t start = 0; start <= list.size();) {
        std::size_t comma = std::min(list.find(',', start), list.size());
        std::string name = list.substr(start, comma - start);
        if (!name.empty()) {
          if (!known_workload(name)) bad_usage("unknown workload '" + name + "'");
          o.only.push_back(name);
        }
        start = comma + 1;
      }
    } else if (flag == "--peer") {
      std::string p = value();
      if (p != "troupe" && p != "caf" && p != "all") bad_usage("--peer: troupe, caf or all");
      o.run_troupe = p != "caf";
      o.run_caf = p != "troupe";
    } else if (flag == "--json") {
      o.json = value();
    } else {
      bad_usage("unknown argument '" + flag + "'");
    }
  }
  if (o.config.workers == 0) o.config.workers = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

bool selected(const Options& o, std::string_view name) {
  if (o.only.empty()) return true;
  for (const auto& n : o.only) {
    if (n == name) return true;
  }
  return false;
}

// -- one measurement in a child process ----------------------------------------------------

/// Runs `run` in a forked child; returns its sample, or nothing if it failed (the child has
/// said why on stderr).
std::optional<Sample> run_isolated(RunFn run, const Config& config, std::size_t rows) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("troupe-bench: pipe");
    return std::nullopt;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("troupe-bench: fork");
    close(fds[0]);
    close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(static_cast<unsigned>(config.deadline().count()) + 30);  // hung: die by SIGALRM
    int code = 0;
    try {
      Sample s = run(config);
      if (s.size() != rows) throw std::logic_error("workload returned the wrong number of values");
      auto bytes = static_cast<ssize_t>(s.size() * sizeof(double));
      if (write(fds[1], s.data(), static_cast<std::size_t>(bytes)) != bytes) code = 5;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "troupe-bench: run failed: %s\n", e.what());
      code = 4;
    }
    std::fflush(nullptr);
    _exit(code);
  }
  close(fds[1]);
  Sample sample(rows);
  auto* out = reinterpret_cast<char*>(sample.data());
  std::size_t want = rows * sizeof(double);
  std::size_t got = 0;
  while (got < want) {
    ssize_t n = read(fds[0], out + got, want - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    std::fprintf(stderr, "troupe-bench: run %s (signal %d)\n",
                 sig == SIGALRM ? "timed out" : "crashed", sig);
    return std::nullopt;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != want) return std::nullopt;
  return sample;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  Options opts = parse(argc, argv);
  Peer peers[2] = {troupe_peer(), caf_peer()};
  bool enabled[2] = {opts.run_troupe, opts.run_caf && !peers[1].runs.empty()};
  bool all_ok = true;
  const double load_before = load_average();

  std::fprintf(stderr, "troupe-bench: %u workers, scale %g, %u reps; %s%s\n", opts.config.workers,
               opts.config.scale, opts.reps, std::string(peers[1].version).c_str(),
               peers[1].runs.empty() ? " (CAF column: n/a)" : "");

  std::vector<RowResult> results;
  for (const Workload& w : workloads()) {
    if (!selected(opts, w.name)) continue;
    // samples[peer][row] holds one value per successful repetition.
    std::vector<std::vector<double>> samples[2];
    RunFn runs[2];
    for (int p = 0; p < 2; ++p) {
      samples[p].resize(w.rows.size());
      runs[p] = enabled[p] ? peers[p].find(w.name) : nullptr;
    }
    bool failed[2] = {false, false};
    for (unsigned rep = 0; rep < opts.reps; ++rep) {
      for (int k = 0; k < 2; ++k) {
        int p = rep % 2 == 0 ? k : 1 - k;  // alternate who goes first
        if (runs[p] == nullptr || failed[p]) continue;
        std::optional<Sample> s = run_isolated(runs[p], opts.config, w.rows.size());
        std::string line;
        if (!s) {
          failed[p] = true;
          all_ok = false;
          line = "FAILED";
        } else {
          for (std::size_t r = 0; r < w.rows.size(); ++r) {
            samples[p][r].push_back((*s)[r]);
            line.append(" ").append(human((*s)[r])).append(" ").append(w.rows[r].unit);
          }
        }
        std::fprintf(stderr, "  %-9.*s %-6.*s rep %u/%u:%s\n", static_cast<int>(w.name.size()),
                     w.name.data(), static_cast<int>(peers[p].name.size()), peers[p].name.data(),
                     rep + 1, opts.reps, line.c_str());
      }
    }
    for (std::size_t r = 0; r < w.rows.size(); ++r) {
      RowResult row;
      row.row = &w.rows[r];
      row.troupe_failed = failed[0];
      row.caf_failed = failed[1];
      if (!failed[0] && !samples[0][r].empty()) row.troupe = median(samples[0][r]);
      if (!failed[1] && !samples[1][r].empty()) row.caf = median(samples[1][r]);
      results.push_back(row);
    }
  }

  RunInfo info;
  info.workers = opts.config.workers;
  info.batch = opts.config.batch;
  info.scale = opts.config.scale;
  info.reps = opts.reps;
  info.load_before = load_before;
  info.load_after = load_average();
  info.troupe_version = peers[0].version;
  info.caf_version = peers[1].version;
  print_table(stdout, info, results);
  if (!opts.json.empty() && !write_json(opts.json, results)) all_ok = false;
  if (!all_ok) std::fprintf(stderr, "troupe-bench: some runs FAILED (see above)\n");
  return all_ok ? 0 : 1;
}
