// Tests of the Chrome/Perfetto trace (trace.cpp) and the dead-letter log.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

TEST_CASE("a traced system writes valid Chrome trace JSON with a slice per actor turn") {
  std::string path = "trace-test-" + std::to_string(::getpid()) + ".json";
  {
    troupe::System system({.workers = 2, .trace_path = path});
    auto ping = system.spawn("pinger", [](int n) { return n + 1; });
    for (int i = 0; i < 200; ++i) REQUIRE(ping.ask(i).get(5s) == i + 1);
  }
  std::ifstream in(path);
  REQUIRE(in.good());
  auto trace = nlohmann::json::parse(in);
  std::remove(path.c_str());
  REQUIRE(trace.contains("traceEvents"));
  std::set<std::string> phases;
  int pinger_turns = 0;
  int flow_starts = 0;
  int flow_ends = 0;
  for (auto& e : trace["traceEvents"]) {
    std::string ph = e["ph"];
    phases.insert(ph);
    REQUIRE(e.contains("tid"));
    if (ph == "X") {
      REQUIRE(e["dur"].get<double>() >= 0);
      if (e["name"] == "pinger") ++pinger_turns;
    }
    if (ph == "s") ++flow_starts;
    if (ph == "f") ++flow_ends;
  }
  REQUIRE(pinger_turns >= 1);
  REQUIRE(phases.count("M") == 1);  // thread names
  REQUIRE(flow_starts >= 1);        // one send in 64 is sampled
  REQUIRE(flow_ends >= 1);
}

TEST_CASE("an unwritable trace path is reported, not fatal") {
  troupe::System system({.workers = 1, .trace_path = "/nonexistent-dir/trace.json"});
  auto a = system.spawn([](int n) { return n; });
  REQUIRE(a.ask(1).get(5s) == 1);
  REQUIRE(system.shutdown(5s));
}
