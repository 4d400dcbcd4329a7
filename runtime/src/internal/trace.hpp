// internal/trace.hpp - a Chrome/Perfetto trace of actor turns. Never installed.
//
// Off by default; when on (SystemOptions::trace_path or TROUPE_TRACE=path.json), each turn
// records a complete event ("X") on its thread's track, named after the actor, and one
// send in `sample_every` records a flow arrow from the send to the handling turn. Events
// go to per-thread buffers (no lock per event) and are written out at shutdown.
//
// A live tracer (no path) is what troupe::probe::start_trace switches on while a program
// runs: it keeps at most `max_events` per thread, and hands out a time window of what it
// recorded as JSON (window) instead of writing a file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace troupe::detail {

class Cell;
struct Envelope;

class Tracer {
 public:
  /// Writes to `path` at write(); with an empty path, only records (a live tracer).
  /// `max_events`: per thread, 0 for no limit; what goes over it is counted, not kept.
  explicit Tracer(std::string path, std::uint32_t sample_every = 64, std::size_t max_events = 0);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  /// A turn of `cell` ran on this thread from `start` for `length`.
  void turn(const Cell& cell, std::chrono::steady_clock::time_point start,
            std::chrono::steady_clock::duration length);
  /// A message is being sent; maybe starts a flow arrow.
  void sent(const Envelope* e);
  /// A message is being delivered; ends its flow arrow if it has one.
  void delivered(const Envelope* e);
  /// Writes the trace file. Returns false (and says why on stderr) if it cannot.
  bool write();
  /// Microseconds since this tracer began, the clock of its events.
  double now_us() const;
  /// Forgets every event recorded so far (a live tracer, before a new recording).
  void clear();
  /// Chrome trace JSON of the events that overlap [from_us, to_us].
  std::string json(double from_us, double to_us);

 private:
  struct Event {
    char phase;         // 'X' slice, 's' flow start, 'f' flow end
    double ts_us;
    double dur_us;
    std::uint64_t id;   // flow id
    std::string name;
  };
  struct Buffer {
    std::mutex mutex;  // uncontended but for the final write
    std::uint32_t tid;
    std::string thread_name;
    std::vector<Event> events;
  };
  Buffer& buffer();
  /// Whether `b` may take one more event (counts the ones it may not). Under b.mutex.
  bool room(Buffer& b) noexcept;
  double micros(std::chrono::steady_clock::time_point t) const;

  std::string path_;
  std::uint32_t sample_every_;
  std::chrono::steady_clock::time_point origin_;
  std::mutex mutex_;  // guards buffers_ (registration) and flows_
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::unordered_map<const Envelope*, std::uint64_t> flows_;
  std::uint64_t next_flow_ = 0;
  std::uint64_t sends_ = 0;
  std::uint64_t id_;  // tells one tracer's thread buffers from another's
  bool written_ = false;
  std::size_t max_events_;
  std::atomic<std::uint64_t> dropped_{0};  // events over max_events_
};

}  // namespace troupe::detail
