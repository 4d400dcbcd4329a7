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

Tracer::Tracer(std::string path, std::uint32_t sample_every)
    : path_(std::move(path)),
      sample_every_(sample_every == 0 ? 1 : sample_every),
      origin_(std::chrono::steady_clock::now()),
      id_(++tracer_ids) {}

Tracer::~Tracer() { write(); }

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
  b.events.push_back(Event{'f', micros(std::chrono::steady_clock::now()), 0, id, "message"});
}

bool Tracer::write() {
  std::lock_guard lock(mutex_);
  if (written_) return true;
  written_ = true;
  std::string tmp = path_ + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "troupe: cannot write the trace to '%s'\n", path_.c_str());
    return false;
  }
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  auto add = [&](const std::string& line) {
    if (!first) out += ",\n";
    first = false;
    out += line;
  };
  for (auto& b : buffers_) {
    std::lock_guard buffer_lock(b->mutex);
    add(fmt::format(R"({{"ph":"M","pid":1,"tid":{},"name":"thread_name","args":{{"name":"{}"}}}})",
                    b->tid, b->thread_name));
    for (auto& e : b->events) {
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
  out += "\n]}\n";
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    std::fprintf(stderr, "troupe: cannot write the trace to '%s'\n", path_.c_str());
    return false;
  }
  return true;
}

}  // namespace troupe::detail
