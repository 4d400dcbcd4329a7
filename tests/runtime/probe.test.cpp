// Tests of troupe/probe.hpp (probe.cpp): a live trace, worker busy time, the ask clock, the
// send sampler, the exact handled count and other libraries' metrics sources.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../support.hpp"
#include <troupe/probe.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

namespace {
struct Hit {};
using Target = troupe::FunctionActor<std::function<void(const Hit&)>>;
struct Relay {
  troupe::Ref<Target> to;
};

int turns_named(const nlohmann::json& trace, const std::string& name) {
  int n = 0;
  for (auto& e : trace["traceEvents"]) n += e["ph"] == "X" && e["name"] == name ? 1 : 0;
  return n;
}
}  // namespace

TEST_CASE("a live trace holds the turns between its start and its stop, and only those") {
  troupe::System system({.workers = 2});
  auto echo = system.spawn("traced-echo", [](int n) { return n; });
  for (int i = 0; i < 50; ++i) REQUIRE(echo.ask(i).get(5s) == i);  // before: not recorded
  REQUIRE(troupe::probe::stop_trace(system).empty());              // none running
  REQUIRE(troupe::probe::start_trace(system));
  REQUIRE_FALSE(troupe::probe::start_trace(system));  // one at a time
  // A round of a turn reads the tracer once: let the one answering the last ask end.
  std::this_thread::sleep_for(20ms);
  for (int i = 0; i < 30; ++i) REQUIRE(echo.ask(i).get(5s) == i);
  auto trace = nlohmann::json::parse(troupe::probe::stop_trace(system));
  int during = turns_named(trace, "traced-echo");
  REQUIRE(during >= 1);
  REQUIRE(during <= 30);
  for (int i = 0; i < 50; ++i) REQUIRE(echo.ask(i).get(5s) == i);  // after: not recorded
  REQUIRE(troupe::probe::start_trace(system));
  auto empty = nlohmann::json::parse(troupe::probe::stop_trace(system));
  REQUIRE(turns_named(empty, "traced-echo") == 0);
}

TEST_CASE("a live trace of a system that writes a trace file is a window of that file's") {
  std::string path = "probe-test-" + std::to_string(::getpid()) + ".json";
  {
    troupe::System system({.workers = 1, .trace_path = path});
    auto echo = system.spawn("file-echo", [](int n) { return n; });
    for (int i = 0; i < 20; ++i) REQUIRE(echo.ask(i).get(5s) == i);
    REQUIRE(troupe::probe::start_trace(system));
    std::this_thread::sleep_for(20ms);
    for (int i = 0; i < 5; ++i) REQUIRE(echo.ask(i).get(5s) == i);
    auto window = nlohmann::json::parse(troupe::probe::stop_trace(system));
    REQUIRE(turns_named(window, "file-echo") >= 1);
    REQUIRE(turns_named(window, "file-echo") <= 5);
  }
  std::remove(path.c_str());
}

TEST_CASE("asks are timed one in eight while the ask clock runs, none otherwise") {
  troupe::System system({.workers = 2});
  auto echo = system.spawn([](int n) { return n; });
  for (int i = 0; i < 64; ++i) REQUIRE(echo.ask(i).get(5s) == i);
  REQUIRE(troupe::probe::ask_latency(system).count == 0);
  troupe::probe::time_asks(system, true);
  for (int i = 0; i < 800; ++i) REQUIRE(echo.ask(i).get(5s) == i);
  troupe::probe::time_asks(system, false);
  for (int i = 0; i < 800; ++i) REQUIRE(echo.ask(i).get(5s) == i);
  auto latency = troupe::probe::ask_latency(system);
  REQUIRE(latency.count == 100);  // this thread's counter: exactly every eighth ask
  std::uint64_t sum = 0;
  for (auto c : latency.counts) sum += c;
  REQUIRE(sum == latency.count);
  REQUIRE(latency.sum_seconds > 0);
  REQUIRE(latency.sum_seconds < 100 * 5.0);
}

TEST_CASE("sampled sends name the sending actor and the receiver, and stop when switched off") {
  troupe::System system({.workers = 2});
  auto target =
      system.spawn<Target>({.name = "target"}, std::function<void(const Hit&)>([](const Hit&) {}));
  auto relay = system.spawn("relay", [](const Relay& r) {
    for (int i = 0; i < 16; ++i) r.to.tell(Hit{});
  });
  troupe::probe::sample_sends(system, true);
  for (int i = 0; i < 100; ++i) relay.tell(Relay{target});
  REQUIRE(support::eventually([&] {
    for (auto& a : system.actors()) {
      if (a.name == "target") return a.handled == 1600;
    }
    return false;
  }));
  std::uint32_t relay_id = 0, target_id = 0;
  for (auto& a : system.actors()) {
    if (a.name == "relay") relay_id = a.id;
    if (a.name == "target") target_id = a.id;
  }
  std::uint64_t relayed = 0, from_outside = 0;
  for (auto& s : troupe::probe::take_send_samples(system)) {
    if (s.from == relay_id && s.to == target_id) relayed += s.count;
    if (s.from == 0 && s.to == relay_id) from_outside += s.count;
  }
  // One send in 16 per thread: about 100 of the 1,600 relayed, about 6 of the 100 sent here.
  REQUIRE(relayed >= 90);
  REQUIRE(relayed <= 110);
  REQUIRE(from_outside >= 5);
  troupe::probe::sample_sends(system, false);
  for (int i = 0; i < 100; ++i) relay.tell(Relay{target});
  REQUIRE(support::eventually([&] { return system.actors().size() == 2; }));
  std::this_thread::sleep_for(50ms);
  REQUIRE(troupe::probe::take_send_samples(system).empty());
}

TEST_CASE("what ended actors handled is kept, so the handled total is exact") {
  troupe::System system({.workers = 2});
  REQUIRE(system.stats().handled_by_ended == 0);
  for (int round = 0; round < 3; ++round) {
    auto brief = system.spawn([](const Hit&) {});
    for (int i = 0; i < 500; ++i) brief.tell(Hit{});
    brief.stop(troupe::StopMode::drain);  // handled as the 501st message
  }
  REQUIRE(support::eventually([&] { return system.count() == 0; }));
  REQUIRE(system.stats().handled_by_ended == 3 * 501);
}

TEST_CASE("stats count the timers waiting to fire") {
  troupe::System system({.workers = 1});
  auto target = system.spawn([](const Hit&) {});
  REQUIRE(system.stats().timers_pending == 0);
  auto a = system.after(1h, target, Hit{});
  auto b = system.every(1h, target, Hit{});
  REQUIRE(system.stats().timers_pending == 2);
  a.cancel();
  b.cancel();
}

TEST_CASE("worker busy time follows turns, not the clock") {
  troupe::System system({.workers = 2});
  auto spin = system.spawn([](const Hit&) {
    auto until = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  auto before = troupe::probe::worker_busy_seconds(system);
  REQUIRE(before.size() == 2);
  spin.tell(Hit{});
  spin.tell(Hit{});
  REQUIRE(support::eventually([&] { return system.actors().at(0).handled == 2; }));
  std::this_thread::sleep_for(50ms);  // the worker goes idle
  auto sum = [](const std::vector<double>& v) { return v.at(0) + v.at(1); };
  auto settled = troupe::probe::worker_busy_seconds(system);
  REQUIRE(sum(settled) - sum(before) >= 0.4);  // two turns of 0.2 s
  std::this_thread::sleep_for(300ms);
  auto later = troupe::probe::worker_busy_seconds(system);
  // Idle workers (spinning or asleep) add nothing; on a loaded host a little slack.
  REQUIRE(sum(later) - sum(settled) < 0.1);
}

TEST_CASE("a metrics source reports until removed") {
  troupe::System system({.workers = 1});
  auto id = troupe::probe::add_metrics_source(system, [](std::vector<troupe::probe::Metric>& out) {
    out.push_back({"troupe_test_total", "A test counter.", true, {}, 3});
  });
  troupe::System other({.workers = 1});
  REQUIRE(troupe::probe::collect_metrics(other).empty());
  auto got = troupe::probe::collect_metrics(system);
  REQUIRE(got.size() == 1);
  REQUIRE(got[0].value == 3);
  troupe::probe::remove_metrics_source(system, id);
  REQUIRE(troupe::probe::collect_metrics(system).empty());
}
