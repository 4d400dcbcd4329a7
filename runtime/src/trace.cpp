// trace.cpp - recording actor turns and writing them as Chrome trace JSON.
#include "internal/trace.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "internal/scheduler.hpp"
#include "troupe/detail/cell.hpp"
#include "troupe/detail/state.hpp"

namespace troupe::detail {

namespace {
std::atomic<std::uint64_t> tracer_ids{0};
std::atomic<std::uint32_t> thread_ids{0};
thread_local std::uint32_t tls_tid = 0;
thread_local std::uint64_t tls_tracer = 0;  // which tracer tls_buffer belongs to
thread_local void* tls_buffer = nullptr;

std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}
}  // namespace

Tracer::Tracer(std::string path, std::uint32_t sample_every, std::size_t max_events)
    : path_(std::move(path)),
      sample_every_(sample_every == 0 ? 1 : sample_every),
      origin_(std::chrono::steady_clock::now()),
      id_(++tracer_ids),
      max_events_(max_events) {}

Tracer::~Tracer() {
  if (!path_.empty()) write();
}

double Tracer::now_us() const { return micros(std::chrono::steady_clock::now()); }

bool Tracer::room(Buffer& b) noexcept {
  if (max_events_ == 0 || b.events.size() < max_events_) return true;
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Tracer::clear() {
  std::vector<Buffer*> buffers;
  {
    std::lock_guard lock(mutex_);
    for (auto& b : buffers_) buffers.push_back(b.get());  // never removed: safe to keep
    flows_.clear();
  }
  for (Buffer* b : buffers) {
    std::lock_guard buffer_lock(b->mutex);
    std::vector<Event>().swap(b->events);
  }
  dropped_.store(0, std::memory_order_relaxed);
}

double Tracer::micros(std::chrono::steady_clock::time_point t) const {
  return std::chrono::duration<double, std::micro>(t - origin_).count();
}

Tracer::Buffer& Tracer::buffer() {
  if (tls_tracer == id_ && tls_buffer != nullptr) return *static_cast<Buffer*>(tls_buffer);
  if (tls_tid == 0) tls_tid = ++thread_ids;
  auto b = std::make_unique<Buffer>();
  b->tid = tls_tid;
  b->thread_name = on_pool_thread() ? fmt::format("worker {}", tls_tid)
                                      : fmt::format("thread {}", tls_tid);
  Buffer* raw = b.get();
  {
    std::lock_guard lock(mutex_);
    buffers_.push_back(std::move(b));
  }
  tls_tracer = id_;
  tls_buffer = raw;
  return *raw;
}

void Tracer::turn(const Cell& cell, std::chrono::steady_clock::time_point start,
                  std::chrono::steady_clock::duration length) {
  Buffer& b = buffer();
  std::lock_guard lock(b.mutex);
  if (!room(b)) return;
  b.events.push_back(Event{'X', micros(start),
                           std::chrono::duration<double, std::micro>(length).count(), 0,
                           cell.display_name()});
}

void Tracer::sent(const Envelope* e) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (sends_++ % sample_every_ != 0) return;
    id = ++next_flow_;
    flows_[e] = id;
  }
  Buffer& b = buffer();
  std::lock_guard lock(b.mutex);
  if (!room(b)) return;
  b.events.push_back(Event{'s', micros(std::chrono::steady_clock::now()), 0, id, "message"});
}

void Tracer::delivered(const Envelope* e) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = flows_.find(e);
    if (it == flows_.end()) return;
    id = it->second;
    flows_.erase(it);
  }
  Buffer& b = buffer();
  std::lock_guard lock(b.mutex);
  if (!room(b)) return;
  b.events.push_back(Event{'f', micros(std::chrono::steady_clock::now()), 0, id, "message"});
}

bool Tracer::write() {
  {
    std::lock_guard lock(mutex_);
    if (written_) return true;
    written_ = true;
  }
  std::string out = json(-1e300, 1e300);
  std::string tmp = path_ + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "troupe: cannot write the trace to '%s'\n", path_.c_str());
    return false;
  }
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    std::fprintf(stderr, "troupe: cannot write the trace to '%s'\n", path_.c_str());
    return false;
  }
  return true;
}

std::string Tracer::json(double from_us, double to_us) {
  // The list of buffers is copied under the tracer's lock (buffers are never removed),
  // each buffer's events read under its own.
  std::vector<Buffer*> buffers;
  {
    std::lock_guard lock(mutex_);
    for (auto& b : buffers_) buffers.push_back(b.get());
  }
  std::uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  auto add = [&](const std::string& line) {
    if (!first) out += ",\n";
    first = false;
    out += line;
  };
  for (Buffer* b : buffers) {
    std::lock_guard buffer_lock(b->mutex);
    add(fmt::format(R"({{"ph":"M","pid":1,"tid":{},"name":"thread_name","args":{{"name":"{}"}}}})",
                    b->tid, b->thread_name));
    for (auto& e : b->events) {
      if (e.ts_us + e.dur_us < from_us || e.ts_us > to_us) continue;
      if (e.phase == 'X') {
        add(fmt::format(R"({{"ph":"X","pid":1,"tid":{},"ts":{:.3f},"dur":{:.3f},"name":"{}","cat":"turn"}})",
                        b->tid, e.ts_us, e.dur_us, json_escape(e.name)));
      } else {
        add(fmt::format(
            R"({{"ph":"{}","pid":1,"tid":{},"ts":{:.3f},"id":{},"name":"{}","cat":"send"{}}})",
            e.phase, b->tid, e.ts_us, e.id, e.name, e.phase == 'f' ? R"(,"bp":"e")" : ""));
      }
    }
  }
  out += fmt::format("\n],\"otherData\":{{\"dropped_events\":\"{}\"}}}}\n", dropped);
  return out;
}

}  // namespace troupe::detail
