// troupe/probe.hpp - what a tool watching a running System can switch on and read; the
// observer (library troupe-observer) is built on it.
//
//   troupe::probe::start_trace(system);
//   std::this_thread::sleep_for(std::chrono::seconds(2));
//   std::string json = troupe::probe::stop_trace(system);   // open it in ui.perfetto.dev
//
// Everything here is off until switched on. While off, the runtime pays one relaxed
// atomic load where it would record (each turn, each send, each ask), nothing else.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "troupe/export.hpp"

namespace troupe {

class System;

namespace probe {

// -- a live trace --------------------------------------------------------------------------

/// Events a live trace keeps per thread; what comes after is counted as dropped.
inline constexpr std::size_t kMaxTraceEvents = 200'000;

/// Starts recording a Chrome trace of `system` in memory: a slice per actor turn on its
/// thread's track, an arrow from send to handling for one message in 64 (as TROUPE_TRACE
/// does at exit). Returns false if a recording is already running. If the system writes
/// a trace file anyway (TROUPE_TRACE), the recording is a window of that one. Thread-safe.
TROUPE_API bool start_trace(System& system);
/// Ends the recording start_trace began and returns it as Chrome trace JSON, which
/// ui.perfetto.dev and chrome://tracing open. "" if none was running. Thread-safe.
TROUPE_API std::string stop_trace(System& system);

// -- workers -------------------------------------------------------------------------------

/// Seconds each worker of the pool has spent running turns (not looking for work or
/// asleep) since it started. Read racily: a value may lag the truth by one turn (and, read
/// while a worker goes idle, dip by one). Empty for a deterministic system. Never blocks.
TROUPE_API std::vector<double> worker_busy_seconds(const System& system);

// -- asks ------------------------------------------------------------------------------------

/// A histogram of ask latency: from the ask's send to its answer (value or error).
struct AskLatency {
  /// Upper bounds of the buckets, in seconds; a last bucket takes the rest (+Inf).
  static constexpr std::array<double, 14> kBounds = {1e-6,   5e-6, 1e-5, 2.5e-5, 5e-5,
                                                     1e-4,   2.5e-4, 5e-4, 1e-3, 5e-3,
                                                     1e-2,   0.1,  1.0,  10.0};
  std::array<std::uint64_t, kBounds.size() + 1> counts{};  ///< per bucket, not cumulative
  double sum_seconds = 0;
  std::uint64_t count = 0;
};
/// Times one ask in 8 of `system` (on) or none (off, the default). Thread-safe.
TROUPE_API void time_asks(System& system, bool on);
/// The asks timed so far (counts only grow). Thread-safe.
TROUPE_API AskLatency ask_latency(const System& system);

// -- who sends to whom -----------------------------------------------------------------------

/// Sends sampled from one actor to another; `from` is 0 for a send from outside any actor.
struct SendSample {
  std::uint32_t from = 0;  ///< ActorInfo::id of the sender
  std::uint32_t to = 0;    ///< ActorInfo::id of the receiver
  std::uint64_t count = 0; ///< sends sampled (one in 16 is)
};
/// Samples one send in 16 of `system` by sender and receiver (on), or none (off, the
/// default). While on, every send of the process leaves its inline path. Thread-safe.
TROUPE_API void sample_sends(System& system, bool on);
/// The samples since the last call, forgotten by it. Thread-safe.
TROUPE_API std::vector<SendSample> take_send_samples(System& system);

// -- metrics of other libraries ----------------------------------------------------------------

/// One series of a metric (Prometheus' data model), as a library reports it.
struct Metric {
  std::string name;  ///< e.g. "troupe_remote_sent_total"
  std::string help;
  bool counter = false;  ///< a counter (only grows); else a gauge
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
/// Fills in the series a library has now. Called on the reader's thread.
using MetricsSource = std::function<void(std::vector<Metric>&)>;
/// Lets a library (troupe-remote's Node) show its counters wherever `system`'s metrics
/// are read, with no link between that library and the reader. Returns an id for
/// remove_metrics_source. Thread-safe.
TROUPE_API std::uint64_t add_metrics_source(System& system, MetricsSource source);
/// Removes a source; once it returns, the source is not running and will not run again.
TROUPE_API void remove_metrics_source(System& system, std::uint64_t id);
/// Every registered source's series for `system`. Thread-safe.
TROUPE_API std::vector<Metric> collect_metrics(System& system);

}  // namespace probe
}  // namespace troupe
