// Tests of troupe-observer (observer/src/observer.cpp, model.cpp): real HTTP requests with
// libcurl against an Observer on a free loopback port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <nlohmann/json.hpp>
#include <troupe/observer.hpp>
#include <troupe/probe.hpp>
#include <troupe/troupe.hpp>

#include "../support.hpp"

using namespace std::chrono_literals;

namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::string content_type;
};

/// GET `url` with libcurl, at most `timeout`; status 0 if it failed. Asserts nothing, so
/// that any thread may call it (Catch's assertions are for the test's own thread).
Reply get(const std::string& url, const std::vector<std::string>& headers = {},
          std::chrono::milliseconds timeout = 10s) {
  Reply r;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return r;
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                   +[](char* data, size_t size, size_t n, void* out) -> size_t {
                     static_cast<std::string*>(out)->append(data, size * n);
                     return size * n;
                   });
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) r.content_type = type;
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r;
}

/// The unlabelled samples of a /metrics text: name -> value.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.find('{') != std::string::npos) continue;
    auto space = line.find(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

/// A TCP connection to 127.0.0.1:port, or -1.
int connect_to(int port, int receive_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Count {};
struct Spawn {};

class Parent : public troupe::Actor {
 public:
  int on(Spawn) {
    kids_.push_back(spawn("kid-" + std::to_string(kids_.size()), [](const Count&) {}));
    return static_cast<int>(kids_.size());
  }

 private:
  std::vector<troupe::Ref<troupe::Actor>> kids_;
};

}  // namespace

TEST_CASE("the observer serves the page, the metrics and the JSON snapshots on a free port") {
  troupe::System system({.workers = 2});
  auto echo = system.spawn("echo", [](int n) { return n; });
  REQUIRE(echo.ask(1).get(5s) == 1);
  troupe::Observer observer(system, {.port = 0, .announce = false});
  REQUIRE(observer.port() > 0);
  REQUIRE(observer.url() == "http://127.0.0.1:" + std::to_string(observer.port()));

  Reply page = get(observer.url() + "/");
  REQUIRE(page.status == 200);
  REQUIRE(page.content_type.find("text/html") == 0);
  REQUIRE(page.body.find("troupe observer") != std::string::npos);

  Reply metrics = get(observer.url() + "/metrics");
  REQUIRE(metrics.status == 200);
  REQUIRE(metrics.content_type.find("version=0.0.4") != std::string::npos);
  REQUIRE(metrics.body.find("# TYPE troupe_dead_letters_total counter") != std::string::npos);
  REQUIRE(metrics.body.find("troupe_mailbox_depth{actor=\"echo\"}") != std::string::npos);

  Reply actors = get(observer.url() + "/actors.json");
  REQUIRE(actors.status == 200);
  auto json = nlohmann::json::parse(actors.body);
  bool found = false;
  for (auto& a : json["actors"]) found = found || a["name"] == "echo";
  REQUIRE(found);

  Reply stats = get(observer.url() + "/stats.json");
  REQUIRE(stats.status == 200);
  auto s = nlohmann::json::parse(stats.body);
  REQUIRE(s["spawned"].get<int>() >= 1);
  REQUIRE(s["workers"].get<int>() == 2);
}

TEST_CASE("unknown paths get 404") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  REQUIRE(get(observer.url() + "/nope").status == 404);
  REQUIRE(get(observer.url() + "/metrics/extra").status == 404);
  REQUIRE(get(observer.url() + "/actors.json?limit=-1").status == 400);
}

TEST_CASE("a trace request for 10000 seconds is refused with 400") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  REQUIRE(get(observer.url() + "/trace?seconds=10000").status == 400);
  REQUIRE(get(observer.url() + "/trace?seconds=61").status == 400);
  REQUIRE(get(observer.url() + "/trace?seconds=abc").status == 400);
  REQUIRE(get(observer.url() + "/trace?seconds=0").status == 400);
}

TEST_CASE("a trace request records that many seconds of turns as Chrome trace JSON") {
  troupe::System system({.workers = 2});
  auto busy = system.spawn("busy-actor", [](const Count&) {});
  troupe::Observer observer(system, {.announce = false});
  std::atomic<bool> done{false};
  std::thread sender([&] {
    while (!done.load()) {
      for (int i = 0; i < 100; ++i) busy.tell(Count{});
      std::this_thread::sleep_for(1ms);
    }
  });
  Reply trace;
  std::thread asker([&] { trace = get(observer.url() + "/trace?seconds=1", {}, 15s); });
  std::this_thread::sleep_for(200ms);
  // One recording at a time; the rest of the observer keeps answering meanwhile.
  REQUIRE(get(observer.url() + "/trace?seconds=1").status == 409);
  REQUIRE(get(observer.url() + "/stats.json").status == 200);
  asker.join();
  done = true;
  sender.join();

  REQUIRE(trace.status == 200);
  REQUIRE(trace.content_type == "application/json");
  auto json = nlohmann::json::parse(trace.body);
  int turns = 0;
  int flows = 0;
  double first = 1e300;
  double last = 0;
  for (auto& e : json["traceEvents"]) {
    if (e["ph"] == "X" && e["name"] == "busy-actor") {
      ++turns;
      first = std::min(first, e["ts"].get<double>());
      last = std::max(last, e["ts"].get<double>());
    }
    if (e["ph"] == "s") ++flows;
  }
  INFO(turns << " turns, " << flows << " flow arrows, from " << first << " to " << last << " us");
  REQUIRE(turns > 10);
  REQUIRE(flows > 0);
  REQUIRE(last - first < 1.5e6);  // that one second, not everything since the start
  REQUIRE(json["otherData"]["dropped_events"] == "0");

  // Once done, the runtime records nothing, and a new recording may start.
  Reply again = get(observer.url() + "/trace?seconds=1", {}, 15s);
  REQUIRE(again.status == 200);
  REQUIRE(nlohmann::json::parse(again.body)["traceEvents"].is_array());
}

TEST_CASE("a trace whose client left is recorded and dropped without harm") {
  troupe::System system({.workers = 1});
  auto observer = std::make_unique<troupe::Observer>(system, troupe::ObserverOptions{.announce = false});
  REQUIRE(get(observer->url() + "/trace?seconds=1", {}, 300ms).status == 0);  // gave up
  std::this_thread::sleep_for(1200ms);
  REQUIRE(get(observer->url() + "/trace?seconds=2", {}, 300ms).status == 0);
  observer.reset();  // mid-recording: stops it, frees the request
  auto echo = system.spawn([](int n) { return n; });
  REQUIRE(echo.ask(2).get(5s) == 2);
}

TEST_CASE("a wrong token gets 401, the right one in a header or the query gets through") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.token = "s3cret", .announce = false});
  REQUIRE(get(observer.url() + "/metrics").status == 401);
  REQUIRE(get(observer.url() + "/metrics", {"Authorization: Bearer wrong"}).status == 401);
  REQUIRE(get(observer.url() + "/metrics?token=s3cre").status == 401);
  REQUIRE(get(observer.url() + "/", {"Authorization: Bearer s3cret0"}).status == 401);
  REQUIRE(get(observer.url() + "/metrics", {"Authorization: Bearer s3cret"}).status == 200);
  REQUIRE(get(observer.url() + "/actors.json?token=s3cret").status == 200);
}

TEST_CASE("counters never go down between two scrapes") {
  troupe::System system({.workers = 2, .log_failures = false});
  auto counter = system.spawn("counter", [](const Count&) {});
  auto thrower = system.spawn<troupe::FunctionActor<std::function<void(int)>>>(
      {.name = "thrower", .on_failure = troupe::OnFailure::resume},
      std::function<void(int)>([](int) { throw std::runtime_error("boom"); }));
  troupe::Observer observer(system, {.announce = false});
  auto first = samples(get(observer.url() + "/metrics").body);
  for (int i = 0; i < 10'000; ++i) counter.tell(Count{});
  for (int i = 0; i < 5; ++i) thrower.tell(1);
  auto gone = system.spawn([](const Count&) {});
  gone.stop();
  REQUIRE(system.join(0ms) == false);
  REQUIRE(support::eventually([&] { return system.stats().failures >= 5; }));
  REQUIRE(support::eventually([&] {
    for (auto& a : system.actors()) {
      if (a.name == "counter") return a.handled == 10'000;
    }
    return false;
  }));
  std::this_thread::sleep_for(600ms);  // the observer takes a new snapshot after 0.5 s
  auto second = samples(get(observer.url() + "/metrics").body);
  int counters = 0;
  for (auto& [name, value] : first) {
    if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) continue;
    ++counters;
    INFO(name);
    REQUIRE(second.count(name) == 1);
    REQUIRE(second[name] >= value);
  }
  REQUIRE(counters >= 10);
  REQUIRE(second["troupe_messages_handled_total"] >= first["troupe_messages_handled_total"] + 10'000);
  REQUIRE(second["troupe_failures_total"] >= 5);
}

TEST_CASE("a client that connects and never reads does not stall the program") {
  troupe::System system({.workers = 2});
  // Enough actors that each /actors.json page is ~200 kB, so unread replies fill buffers.
  std::vector<troupe::Ref<troupe::FunctionActor<std::function<int(int)>>>> many;
  for (int i = 0; i < 3000; ++i) {
    many.push_back(system.spawn<troupe::FunctionActor<std::function<int(int)>>>(
        {.name = "actor-with-a-rather-long-name-" + std::to_string(i)},
        std::function<int(int)>([](int n) { return n + 1; })));
  }
  troupe::Observer observer(system, {.announce = false});

  // One client connects and sends nothing; another sends fifty requests at once and never
  // reads a byte of the answers, with a small receive buffer.
  int silent = connect_to(observer.port());
  int greedy = connect_to(observer.port(), 4096);
  REQUIRE(silent >= 0);
  REQUIRE(greedy >= 0);
  std::string requests;
  for (int i = 0; i < 50; ++i) {
    requests += "GET /actors.json?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  REQUIRE(::send(greedy, requests.data(), requests.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(requests.size()));
  std::this_thread::sleep_for(300ms);

  // The system keeps handling messages, and other clients are answered at once.
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 100; ++i) REQUIRE(many[i].ask(i).get(5s) == i + 1);
    Reply r = get(observer.url() + "/stats.json", {}, 5s);
    REQUIRE(r.status == 200);
    REQUIRE(get(observer.url() + "/metrics", {}, 5s).status == 200);
  }
  REQUIRE(std::chrono::steady_clock::now() - start < 5s);
  ::close(silent);
  ::close(greedy);
}

TEST_CASE("a port already in use is refused with a message naming the address") {
  troupe::System system({.workers = 1});
  troupe::Observer first(system, {.announce = false});
  try {
    troupe::Observer second(system, {.port = first.port(), .announce = false});
    FAIL("the second observer bound a port in use");
  } catch (const std::runtime_error& e) {
    REQUIRE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())) !=
            std::string::npos);
  }
  REQUIRE_THROWS_AS(troupe::Observer(system, {.port = 70000}), std::invalid_argument);
}

TEST_CASE("actors.json pages, sorts and filters on the server") {
  troupe::System system({.workers = 2});
  std::vector<troupe::Ref<troupe::FunctionActor<std::function<void(int)>>>> refs;
  for (int i = 0; i < 450; ++i) {
    refs.push_back(system.spawn<troupe::FunctionActor<std::function<void(int)>>>(
        {.name = (i % 2 == 0 ? "even-" : "odd-") + std::to_string(i)},
        std::function<void(int)>([](int) {})));
  }
  troupe::Observer observer(system, {.announce = false});
  auto page = nlohmann::json::parse(get(observer.url() + "/actors.json?limit=200&offset=400&sort=name").body);
  REQUIRE(page["total"] == 450);
  REQUIRE(page["actors"].size() == 50);
  REQUIRE(page["actors"][0]["name"] < page["actors"][1]["name"]);
  auto odd = nlohmann::json::parse(get(observer.url() + "/actors.json?q=ODD-&limit=5000").body);
  REQUIRE(odd["total"] == 225);
  REQUIRE(odd["limit"] == 1000);  // the server caps a page
  REQUIRE(odd["types"].size() >= 1);
}

TEST_CASE("with 100,000 actors a page of actors.json and the metrics stay small and quick") {
#ifdef TROUPE_SANITIZED
  constexpr int kActors = 10'000;
#else
  constexpr int kActors = 100'000;
#endif
  troupe::System system({.workers = 2});
  std::vector<troupe::Ref<troupe::FunctionActor<std::function<void(int)>>>> refs;
  refs.reserve(kActors);
  for (int i = 0; i < kActors; ++i) {
    refs.push_back(system.spawn<troupe::FunctionActor<std::function<void(int)>>>(
        {.name = "idle-" + std::to_string(i)}, std::function<void(int)>([](int) {})));
  }
  troupe::Observer observer(system, {.announce = false});
  for (int round = 0; round < 2; ++round) {
    auto start = std::chrono::steady_clock::now();
    Reply page = get(observer.url() + "/actors.json?sort=depth&order=desc");
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(page.status == 200);
    double ms = std::chrono::duration<double, std::milli>(took).count();
    INFO("actors.json took " << ms << " ms, " << page.body.size() << " bytes");
    std::printf("100,000 actors: actors.json in %.0f ms, %zu bytes\n", ms, page.body.size());
    REQUIRE(page.body.size() < 200'000);  // one page of 200 rows, whatever the total
    REQUIRE(took < 5s);
    auto json = nlohmann::json::parse(page.body);
    REQUIRE(json["total"] == kActors);
    REQUIRE(json["actors"].size() == 200);
    std::this_thread::sleep_for(600ms);
  }
  Reply metrics = get(observer.url() + "/metrics");
  REQUIRE(metrics.status == 200);
  REQUIRE(metrics.body.size() < 10'000);  // 20 depth series and "other", not 100,000
}

TEST_CASE("actors() and actors.json name each actor's parent, for the supervision tree") {
  troupe::System system({.workers = 2});
  auto parent = system.spawn<Parent>("parent");
  REQUIRE(parent.ask(Spawn{}).get(5s) == 1);
  REQUIRE(parent.ask(Spawn{}).get(5s) == 2);
  std::uint32_t parent_id = 0;
  for (auto& a : system.actors()) {
    if (a.name == "parent") {
      parent_id = a.id;
      REQUIRE(a.parent == 0);  // spawned by the System
    }
  }
  REQUIRE(parent_id != 0);
  for (auto& a : system.actors()) {
    if (a.name.rfind("kid-", 0) == 0) REQUIRE(a.parent == parent_id);
  }
  troupe::Observer observer(system, {.announce = false});
  auto kids = nlohmann::json::parse(
      get(observer.url() + "/actors.json?parent=" + std::to_string(parent_id)).body);
  REQUIRE(kids["total"] == 2);
  auto top = nlohmann::json::parse(get(observer.url() + "/actors.json?parent=0").body);
  REQUIRE(top["total"] == 1);
  REQUIRE(top["actors"][0]["name"] == "parent");
  REQUIRE(top["actors"][0]["children"] == 2);
}

namespace {

/// The value of the series `line` (name and labels, as printed) in a /metrics text; -1 if
/// absent.
double series(const std::string& text, const std::string& line) {
  auto at = text.find("\n" + line + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + line.size() + 2));
}

using Sink = troupe::FunctionActor<std::function<void(const Count&)>>;
struct Ping {
  troupe::Ref<Sink> to;
};

}  // namespace

TEST_CASE("the handled total counts the messages of actors that have ended, exactly") {
  troupe::System system({.workers = 2});
  troupe::Observer observer(system, {.announce = false});
  auto before = samples(get(observer.url() + "/metrics").body)["troupe_messages_handled_total"];
  for (int round = 0; round < 5; ++round) {
    auto brief = system.spawn([](const Count&) {});
    for (int i = 0; i < 1000; ++i) brief.tell(Count{});
    brief.stop(troupe::StopMode::drain);
  }
  REQUIRE(support::eventually([&] { return system.stats().handled_by_ended >= 5000; }));
  std::this_thread::sleep_for(600ms);
  auto after = samples(get(observer.url() + "/metrics").body)["troupe_messages_handled_total"];
  // 5,000 Counts and 5 stops (a stop is handled as a message too), nothing else ran.
  REQUIRE(after - before >= 5000);
  REQUIRE(after - before <= 5010);
}

TEST_CASE("the metrics show worker busy time, pending timers and an ask-latency histogram") {
  troupe::System system({.workers = 2});
  troupe::Observer observer(system, {.announce = false});
  auto echo = system.spawn("echo", [](int n) { return n; });
  auto ticker = system.spawn("ticker", [](const Count&) {});
  troupe::Timer timer = system.every(1h, ticker, Count{});
  for (int i = 0; i < 400; ++i) REQUIRE(echo.ask(i).get(5s) == i);
  std::this_thread::sleep_for(600ms);
  std::string text = get(observer.url() + "/metrics").body;
  INFO(text);
  REQUIRE(text.find("# TYPE troupe_worker_busy_seconds_total counter") != std::string::npos);
  REQUIRE(series(text, "troupe_worker_busy_seconds_total{worker=\"0\"}") >= 0);
  REQUIRE(series(text, "troupe_worker_busy_seconds_total{worker=\"1\"}") >= 0);
  REQUIRE(series(text, "troupe_worker_busy_seconds_total{worker=\"2\"}") == -1);
  REQUIRE(series(text, "troupe_timers_pending") >= 1);
  REQUIRE(text.find("# TYPE troupe_ask_latency_seconds histogram") != std::string::npos);
  double count = series(text, "troupe_ask_latency_seconds_count");
  REQUIRE(count >= 400 / 8 - 1);  // one ask in 8 is timed
  REQUIRE(series(text, "troupe_ask_latency_seconds_bucket{le=\"+Inf\"}") == count);
  REQUIRE(series(text, "troupe_ask_latency_seconds_sum") > 0);
  timer.cancel();
}

TEST_CASE("worker busy time grows while a worker runs turns and stands still while it sleeps") {
  troupe::System system({.workers = 1});
  auto spinner = system.spawn("spinner", [](const Count&) {
    auto until = std::chrono::steady_clock::now() + 300ms;
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  auto start = troupe::probe::worker_busy_seconds(system);
  REQUIRE(start.size() == 1);
  spinner.tell(Count{});
  spinner.tell(Count{});
  REQUIRE(support::eventually([&] { return system.actors().at(0).handled == 2; }));
  std::this_thread::sleep_for(50ms);  // the worker goes idle
  auto busy = troupe::probe::worker_busy_seconds(system);
  REQUIRE(busy[0] - start[0] >= 0.5);  // two turns of 0.3 s
  std::this_thread::sleep_for(300ms);  // asleep now
  auto idle = troupe::probe::worker_busy_seconds(system);
  REQUIRE(idle[0] - busy[0] < 0.1);
}

TEST_CASE("the page's graph shows who sends to whom from sampled sends") {
  troupe::System system({.workers = 2});
  auto sink = system.spawn<Sink>({.name = "graph-sink"}, std::function<void(const Count&)>([](const Count&) {}));
  auto source = system.spawn("graph-source", [](const Ping& p) {
    for (int i = 0; i < 50; ++i) p.to.tell(Count{});
  });
  troupe::Observer observer(system, {.announce = false});
  // Page polls switch sampling on, in windows of 0.1 s each second: keep sending.
  std::atomic<bool> done{false};
  std::thread sender([&] {
    while (!done.load()) {
      source.tell(Ping{sink});
      std::this_thread::sleep_for(2ms);
    }
  });
  nlohmann::json graph;
  bool found = support::eventually([&] {
    std::this_thread::sleep_for(300ms);
    graph = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["graph"];
    std::map<std::uint32_t, std::string> names;
    for (auto& n : graph["nodes"]) names[n["id"]] = n["name"];
    for (auto& e : graph["edges"]) {
      if (names[e["from"]] == "graph-source" && names[e["to"]] == "graph-sink") return true;
    }
    return false;
  });
  done = true;
  sender.join();
  INFO(graph.dump());
  REQUIRE(found);
  REQUIRE(graph["sampling"] == true);
  REQUIRE(graph["edges"].size() <= 60);
}

TEST_CASE("another library's metrics source shows in the metrics until removed") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  auto id = troupe::probe::add_metrics_source(system, [](std::vector<troupe::probe::Metric>& out) {
    out.push_back({"troupe_remote_sent_total", "Frames sent to a peer.", true,
                   {{"peer", "node-b"}}, 42});
    out.push_back({"troupe_remote_sent_total", "Frames sent to a peer.", true,
                   {{"peer", "node-\"c\""}}, 7});
    out.push_back({"not a name", "ignored", false, {}, 1});
  });
  std::string text = get(observer.url() + "/metrics").body;
  INFO(text);
  REQUIRE(text.find("# TYPE troupe_remote_sent_total counter") != std::string::npos);
  REQUIRE(series(text, "troupe_remote_sent_total{peer=\"node-b\"}") == 42);
  REQUIRE(series(text, "troupe_remote_sent_total{peer=\"node-\\\"c\\\"\"}") == 7);
  REQUIRE(text.find("not a name") == std::string::npos);
  troupe::probe::remove_metrics_source(system, id);
  REQUIRE(get(observer.url() + "/metrics").body.find("troupe_remote_sent_total") == std::string::npos);
}

TEST_CASE("peer nodes reported by a metrics source become the page's cluster rows") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  auto empty = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["cluster"];
  REQUIRE(empty["peers"].empty());
  REQUIRE(empty["queues"].empty());
  // What troupe-remote's Node reports (remote/src/node.cpp), without a NATS server.
  auto id = troupe::probe::add_metrics_source(system, [](std::vector<troupe::probe::Metric>& out) {
    out.push_back({"troupe_remote_sent_total", "", true, {{"node", "a"}, {"peer", "b"}}, 12});
    out.push_back({"troupe_remote_peer_up", "", false,
                   {{"node", "a"}, {"peer", "b"}, {"incarnation", "1f"}}, 1});
    out.push_back({"troupe_remote_heartbeat_age_seconds", "", false, {{"node", "a"}, {"peer", "b"}}, 0.25});
  });
  std::this_thread::sleep_for(600ms);  // past the last snapshot's 500 ms: the next one reads it
  auto cluster = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["cluster"]["peers"];
  REQUIRE(cluster.size() == 1);
  REQUIRE(cluster[0]["peer"] == "b");
  REQUIRE(cluster[0]["sent"] == 12);
  REQUIRE(cluster[0]["peer_up"] == 1);
  REQUIRE(cluster[0]["incarnation"] == "1f");
  REQUIRE(cluster[0]["heartbeat_age_seconds"] == 0.25);
  REQUIRE(cluster[0]["state"] == "up");  // without the node's heartbeat period: no suspicion
  troupe::probe::remove_metrics_source(system, id);
}

TEST_CASE("a peer heard from more than two heartbeats ago is suspected, until declared down") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  auto id = troupe::probe::add_metrics_source(system, [](std::vector<troupe::probe::Metric>& out) {
    out.push_back({"troupe_remote_heartbeat_period_seconds", "", false, {{"node", "a"}}, 0.1});
    out.push_back({"troupe_remote_down_after_seconds", "", false, {{"node", "a"}}, 1.0});
    auto peer = [&](const char* name, double age, bool up) {
      out.push_back({"troupe_remote_peer_up", "", false, {{"node", "a"}, {"peer", name}}, up ? 1.0 : 0.0});
      out.push_back({"troupe_remote_heartbeat_age_seconds", "", false, {{"node", "a"}, {"peer", name}}, age});
    };
    peer("fresh", 0.15, true);    // within two periods
    peer("quiet", 0.45, true);    // past two periods, not down
    peer("gone", 3.0, false);     // declared down
  });
  auto peers = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["cluster"]["peers"];
  std::map<std::string, std::string> state;
  for (const auto& p : peers) state[p["peer"]] = p["state"];
  CHECK(state == std::map<std::string, std::string>{{"fresh", "up"}, {"quiet", "suspected"}, {"gone", "down"}});
  REQUIRE(peers.size() == 3);
  CHECK(peers[0]["heartbeat_period_seconds"] == 0.1);
  CHECK(peers[0]["down_after_seconds"] == 1.0);
  troupe::probe::remove_metrics_source(system, id);
}

TEST_CASE("per-peer sent and received rates come from the counters of two snapshots") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto id = troupe::probe::add_metrics_source(system, [calls](std::vector<troupe::probe::Metric>& out) {
    double n = ++*calls;  // both counters grow at every reading, received twice as fast
    out.push_back({"troupe_remote_sent_total", "", true, {{"node", "a"}, {"peer", "b"}}, 100 * n});
    out.push_back({"troupe_remote_received_total", "", true, {{"node", "a"}, {"peer", "b"}}, 200 * n});
  });
  auto first = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["cluster"]["peers"];
  REQUIRE(first.size() == 1);
  CHECK(first[0]["sent_rate"] == 0);  // one reading: no rate yet
  std::this_thread::sleep_for(600ms);  // the model takes a snapshot at most every 500 ms
  auto second = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["cluster"]["peers"];
  REQUIRE(second.size() == 1);
  double sent = second[0]["sent_rate"], received = second[0]["received_rate"];
  CHECK(sent > 0);
  CHECK(received == Approx(2 * sent).epsilon(0.05));
  CHECK(second[0]["history"]["sent"].size() >= 2);
  CHECK(second[0]["history"]["received"].back() == received);
  troupe::probe::remove_metrics_source(system, id);
}

TEST_CASE("a cluster queue's series become the page's queue block, with its done rate") {
  troupe::System system({.workers = 1});
  troupe::Observer observer(system, {.announce = false});
  auto calls = std::make_shared<std::atomic<int>>(0);
  // What ClusterQueue::observe reports (remote/src/cluster_queue.cpp), without NATS.
  auto id = troupe::probe::add_metrics_source(system, [calls](std::vector<troupe::probe::Metric>& out) {
    double n = ++*calls;
    out.push_back({"troupe_cluster_queue_items", "", false, {{"queue", "jobs"}}, 7});
    out.push_back({"troupe_cluster_queue_leases", "", false, {{"queue", "jobs"}}, 2});
    out.push_back({"troupe_cluster_queue_done_total", "", true, {{"queue", "jobs"}}, 50 * n});
    out.push_back({"troupe_cluster_queue_settled_total", "", true,
                   {{"queue", "jobs"}, {"outcome", "retry"}}, 3});
  });
  get(observer.url() + "/actors.json");
  std::this_thread::sleep_for(600ms);
  auto queues = nlohmann::json::parse(get(observer.url() + "/actors.json").body)["cluster"]["queues"];
  REQUIRE(queues.size() == 1);
  CHECK(queues[0]["queue"] == "jobs");
  CHECK(queues[0]["items"] == 7);
  CHECK(queues[0]["leases"] == 2);
  CHECK(queues[0]["settled_retry"] == 3);
  CHECK(queues[0]["done_rate"] > 0);
  CHECK(queues[0]["history"]["items"].size() >= 2);
  std::string text = get(observer.url() + "/metrics").body;
  CHECK(text.find("# TYPE troupe_cluster_queue_done_total counter") != std::string::npos);
  CHECK(text.find("troupe_cluster_queue_settled_total{queue=\"jobs\",outcome=\"retry\"} 3") !=
        std::string::npos);
  troupe::probe::remove_metrics_source(system, id);
}
