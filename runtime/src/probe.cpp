// probe.cpp - troupe/probe.hpp: a live trace, worker busy time, the ask clock, the send
// sampler and other libraries' metrics, switched on by whoever watches a System.
#include "troupe/probe.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "internal/core.hpp"
#include "troupe/detail/access.hpp"
#include "troupe/detail/state.hpp"
#include "troupe/system.hpp"

namespace troupe::detail {

std::atomic<std::uint32_t> send_probes{0};

namespace {
// Counters that pick one send or ask in N on each thread. initial-exec: a plain
// %fs-relative access instead of a call to __tls_get_addr, on every send while sampling.
[[gnu::tls_model("initial-exec")]] thread_local std::uint32_t tls_sends = 0;
[[gnu::tls_model("initial-exec")]] thread_local std::uint32_t tls_asks = 0;
}  // namespace

// -- the send sampler ------------------------------------------------------------------------

void SendSampler::sent(std::uint32_t from, std::uint32_t to) noexcept {
  if (++tls_sends % kEvery != 0) return;
  std::uint64_t key = (static_cast<std::uint64_t>(from) << 32) | to;
  try {
    std::lock_guard lock(mutex_);
    ++edges_[key];
  } catch (...) {
    // out of memory: this sample is lost
  }
}

std::vector<probe::SendSample> SendSampler::take() {
  std::unordered_map<std::uint64_t, std::uint64_t> edges;
  {
    std::lock_guard lock(mutex_);
    edges.swap(edges_);
  }
  std::vector<probe::SendSample> out;
  out.reserve(edges.size());
  for (auto [key, count] : edges) {
    out.push_back({static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>(key), count});
  }
  return out;
}

// -- the ask clock -----------------------------------------------------------------------------

void AskClock::Histogram::add(std::chrono::nanoseconds t) noexcept {
  double seconds = std::chrono::duration<double>(t).count();
  const auto& bounds = probe::AskLatency::kBounds;
  auto bucket = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) -
                                         bounds.begin());
  counts[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns.fetch_add(static_cast<std::uint64_t>(t.count()), std::memory_order_relaxed);
}

void AskClock::asked(StateBase& answer) noexcept {
  if (++tls_asks % kEvery != 0) return;
  auto start = std::chrono::steady_clock::now();
  try {
    answer.on_ready([h = histogram_, start] { h->add(std::chrono::steady_clock::now() - start); });
  } catch (...) {
    // out of memory: this ask goes untimed
  }
}

probe::AskLatency AskClock::read() const {
  probe::AskLatency out;
  for (std::size_t i = 0; i < out.counts.size(); ++i) {
    out.counts[i] = histogram_->counts[i].load(std::memory_order_relaxed);
    out.count += out.counts[i];
  }
  out.sum_seconds = static_cast<double>(histogram_->sum_ns.load(std::memory_order_relaxed)) * 1e-9;
  return out;
}

}  // namespace troupe::detail

namespace troupe::probe {

namespace {

detail::Core& core_of(const System& system) { return detail::Access::core(system); }

// The registered metrics sources, by System (System itself carries no field for them).
struct Source {
  const System* system;
  std::uint64_t id;
  std::shared_ptr<MetricsSource> fn;
};
std::mutex sources_mutex;
std::vector<Source> sources;  // guarded by sources_mutex
std::uint64_t next_source = 0;
// Held while a source runs, so that remove_metrics_source can wait for it to finish.
std::mutex collecting;
// Serialises switching probes on and off (rare), so send_probes counts each once.
std::mutex switching;

}  // namespace

bool start_trace(System& system) {
  detail::Core& core = core_of(system);
  std::lock_guard lock(switching);
  if (core.live_trace_running().exchange(true, std::memory_order_acq_rel)) return false;
  if (detail::Tracer* file = core.file_tracer()) {
    core.set_live_trace_from(file->now_us());  // a window of the file's trace
    return true;
  }
  detail::Tracer& live = core.live_tracer();
  live.clear();
  core.set_live_trace_from(live.now_us());
  core.set_tracer(&live);
  detail::send_probes.fetch_add(1, std::memory_order_relaxed);  // flow arrows need sends
  return true;
}

std::string stop_trace(System& system) {
  detail::Core& core = core_of(system);
  std::lock_guard lock(switching);
  if (!core.live_trace_running().load(std::memory_order_acquire)) return {};
  detail::Tracer* tracer = core.file_tracer();
  if (tracer == nullptr) {
    tracer = &core.live_tracer();
    core.set_tracer(nullptr);
    detail::send_probes.fetch_sub(1, std::memory_order_relaxed);
  }
  // Turns that loaded the tracer before it was switched off may still add events; they
  // fall inside the window or are left out by it, and the next recording clears them.
  std::string out = tracer->json(core.live_trace_from(), tracer->now_us());
  if (tracer == &core.live_tracer()) tracer->clear();
  core.live_trace_running().store(false, std::memory_order_release);
  return out;
}

std::vector<double> worker_busy_seconds(const System& system) {
  std::vector<double> out;
  for (auto busy : core_of(system).pool().busy()) {
    out.push_back(std::chrono::duration<double>(busy).count());
  }
  return out;
}

void time_asks(System& system, bool on) { core_of(system).set_timing(on); }

AskLatency ask_latency(const System& system) { return core_of(system).asks().read(); }

void sample_sends(System& system, bool on) {
  detail::Core& core = core_of(system);
  std::lock_guard lock(switching);
  bool was = core.send_sampler() != nullptr;
  if (was == on) return;
  core.set_sampling(on);
  if (on) {
    detail::send_probes.fetch_add(1, std::memory_order_relaxed);
  } else {
    detail::send_probes.fetch_sub(1, std::memory_order_relaxed);
  }
}

std::vector<SendSample> take_send_samples(System& system) {
  return core_of(system).sampler().take();
}

std::uint64_t add_metrics_source(System& system, MetricsSource source) {
  auto fn = std::make_shared<MetricsSource>(std::move(source));
  std::lock_guard lock(sources_mutex);
  std::uint64_t id = ++next_source;
  sources.push_back(Source{&system, id, std::move(fn)});
  return id;
}

void remove_metrics_source(System& system, std::uint64_t id) {
  {
    std::lock_guard lock(sources_mutex);
    std::erase_if(sources, [&](const Source& s) { return s.system == &system && s.id == id; });
  }
  std::lock_guard wait(collecting);  // a collection that took it before is over
}

std::vector<Metric> collect_metrics(System& system) {
  std::lock_guard running(collecting);
  std::vector<std::shared_ptr<MetricsSource>> mine;
  {
    std::lock_guard lock(sources_mutex);
    for (const auto& s : sources) {
      if (s.system == &system) mine.push_back(s.fn);
    }
  }
  std::vector<Metric> out;
  for (const auto& fn : mine) (*fn)(out);
  return out;
}

}  // namespace troupe::probe
