// bench/harness.cpp - sizes, statistics, /proc readings, and the list of workloads.
#include "harness.hpp"

#include <sys/mman.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "workloads.hpp"

namespace bench {

void wrong_result(const std::string& why) {
  std::fprintf(stderr, "troupe-bench: WRONG RESULT: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(kWrongResultStatus);
}

void expect_equal(const char* what, std::uint64_t got, std::uint64_t want) {
  if (got != want) {
    wrong_result(std::string(what) + ": got " + std::to_string(got) + ", expected " +
                 std::to_string(want));
  }
}

std::uint64_t Config::scaled(double full, std::uint64_t at_least) const {
  double n = std::round(full * scale);
  return std::max<std::uint64_t>(at_least, static_cast<std::uint64_t>(std::max(n, 0.0)));
}

unsigned Config::skynet_depth() const {
  double depth = std::round(std::log10(1'000'000 * scale));
  return static_cast<unsigned>(std::clamp(depth, 1.0, 7.0));
}

std::uint64_t Config::skynet_leaves() const {
  std::uint64_t leaves = 1;
  for (unsigned i = 0; i < skynet_depth(); ++i) leaves *= 10;
  return leaves;
}

double load_average() {
  std::ifstream loadavg("/proc/loadavg");
  double one_minute = -1;
  loadavg >> one_minute;
  return loadavg ? one_minute : -1;
}

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  if (!(statm >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm");
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

void warm_memory(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // nothing warmed: the run measures cold memory, as before
#ifdef MADV_HUGEPAGE
  ::madvise(p, bytes, MADV_HUGEPAGE);  // huge pages where the kernel has them, as troupe's pool
#endif
  auto* bytes_at = static_cast<volatile char*>(p);
  for (std::size_t i = 0; i < bytes; i += 4096) bytes_at[i] = 1;
  ::munmap(p, bytes);
}

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  // Nearest rank: the smallest value with at least q of the values at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  std::size_t index = std::clamp<std::size_t>(rank, 1, values.size()) - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double fj_work(double theta) {
  // Savina's ForkJoin "performComputation": one sine, squared.
  double s = std::sin(theta);
  return s * s;
}

// -- the suite ------------------------------------------------------------------------------

namespace {

constexpr Row kPingpong[] = {{"pingpong", "ns/msg", ">= 15x", 15, 0}};
constexpr Row kFanin[] = {{"fanin", "ns/msg", ">= 3x", 3, 0}};
constexpr Row kRing[] = {{"ring", "ns/hop", ">= 15x", 15, 0}};
constexpr Row kSkynet[] = {{"skynet", "ms", ">= 5x", 5, 0}};
constexpr Row kSpawn[] = {{"spawn_ns", "ns/spawn", ">= 20x", 20, 0},
                          {"spawn_bytes", "B/actor", "<= 128 B", 0, 128}};
constexpr Row kAsk[] = {{"ask_p50", "us", "", 0, 0}, {"ask_p99", "us", "<= 50 us", 0, 50}};
constexpr Row kFj[] = {{"fjthrput", "ns/msg", "", 0, 0}};
constexpr Row kFloor[] = {{"floor", "ns/item", "", 0, 0}};
// issue 14: the seeds' patterns on the system actors (troupe only; peers in bench/peers/)
constexpr Row kWq11[] = {{"wq11_64", "ns/item", "", 0, 0}};
constexpr Row kWq11i[] = {{"wq11_inf", "ns/item", "", 0, 0}};
constexpr Row kWq44[] = {{"wq44_64", "ns/item", "", 0, 0}};
constexpr Row kWq44i[] = {{"wq44_inf", "ns/item", "", 0, 0}};
constexpr Row kSem[] = {{"semaphore", "ns/acq+rel", "", 0, 0}};
constexpr Row kEvent[] = {{"event", "ns/wake", "", 0, 0}};
constexpr Row kAskco[] = {{"askco", "ns/rt", "", 0, 0}};

constexpr Workload kWorkloads[] = {
    {"pingpong", "two actors, 1,000,000 round trips", kPingpong},
    {"fanin", "8 senders x 1,000,000 messages to one counter", kFanin},
    {"ring", "1,000 actors, a token passed 10,000,000 hops", kRing},
    {"skynet", "10-ary tree of 1,111,111 actors summing 0..999,999", kSkynet},
    {"spawn", "1,000,000 idle actors: time per spawn, resident bytes per actor", kSpawn},
    {"ask", "1,000 asks from a plain thread, 1 ms apart (workers parked)", kAsk},
    {"fjthrput", "Savina fork-join throughput: 60 actors x 10,000 messages", kFj},
    {"floor", "raw moodycamel ConcurrentQueue, 1 producer / 1 consumer, 10,000,000 items", kFloor},
    {"wq11_64", "WorkQueue(64): 1 producer, 1 consumer actor, 200,000 items + task_done + join", kWq11},
    {"wq11_inf", "unbounded WorkQueue: 1 producer, 1 consumer actor, 200,000 items", kWq11i},
    {"wq44_64", "WorkQueue(64): 4 producer, 4 consumer actors, 200,000 items", kWq44},
    {"wq44_inf", "unbounded WorkQueue: 4 producer, 4 consumer actors, 200,000 items", kWq44i},
    {"semaphore", "Semaphore(1): co_await acquire + release by one actor, 200,000 times", kSem},
    {"event", "two actors wake each other through two Events, 200,000 times each", kEvent},
    {"askco", "co_await ask between two actors, 200,000 round trips", kAskco},
};

}  // namespace

std::span<const Workload> workloads() { return kWorkloads; }

}  // namespace bench
