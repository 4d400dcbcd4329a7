// Tests of troupe::HttpClient (http/src/http.cpp) against the loopback fixture::Server:
// fetching and downloading, the concurrency caps, every failure kind, the concurrency win,
// and what a stop or a shutdown does to transfers in flight.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fixture/server.hpp>
#include <nlohmann/json.hpp>

#include "net_test.hpp"
#include <troupe/http.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;
using net_test::eventually;
using net_test::http_error;
using net_test::kPatience;
using net_test::outcome;
using net_test::TempDir;
using troupe::HttpFailure;

namespace {

/// A server, a system and a client, torn down in the right order (client, system, server).
struct Rig {
  explicit Rig(troupe::HttpOptions options = {}) : http(system, std::move(options)) {}
  fixture::Server server;
  troupe::System system{{.workers = 2}};
  troupe::HttpClient http;
};

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

// -- fetching and downloading ----------------------------------------------------------------

TEST_CASE("get fetches a rates document whose parsed rates equal the fixture's") {
  Rig rig;
  for (const std::string& base : rig.server.bases()) {
    troupe::HttpResponse r =
        rig.http.get(rig.server.url("/daily/" + base + ".json")).get(kPatience);
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    CHECK(r.url == rig.server.url("/daily/" + base + ".json"));
    auto doc = nlohmann::json::parse(r.body);
    CHECK(doc.size() == rig.server.bases().size() - 1);
    for (const std::string& code : rig.server.bases()) {
      if (code == base) {
        CHECK_FALSE(doc.contains(code));
        continue;
      }
      const auto& entry = doc.at(code);
      CHECK(entry.at("rate").get<double>() == rig.server.rate(base, code));
      CHECK(entry.at("inverseRate").get<double>() == rig.server.rate(code, base));
      CHECK(entry.at("date").get<std::string>() == fixture::Server::date());
    }
  }
}

TEST_CASE("download writes a file byte-identical to the served image and no temporary file") {
  Rig rig;
  TempDir dir;
  troupe::Download d =
      rig.http.download(rig.server.url("/images/7.jpg"), dir / "7.jpg").get(kPatience);
  CHECK(d.path == dir / "7.jpg");
  CHECK(d.bytes == rig.server.image(7).size());
  CHECK(net_test::read_file(dir / "7.jpg") == rig.server.image(7));
  CHECK(dir.names() == std::set<std::string>{"7.jpg"});
}

TEST_CASE("a download with overwrite replaces an existing file") {
  Rig rig;
  TempDir dir;
  net_test::write_file(dir / "rfc.txt", "old");
  rig.http.download(rig.server.url("/rfc/rfc2616.txt"), dir / "rfc.txt", {.overwrite = true})
      .get(kPatience);
  CHECK(net_test::read_file(dir / "rfc.txt") == rig.server.rfc(2616));
  CHECK(dir.names() == std::set<std::string>{"rfc.txt"});
}

TEST_CASE("a coroutine handler can co_await a fetch without blocking a worker") {
  struct Fetch {
    std::string url;
  };
  class Reader : public troupe::Actor {
   public:
    explicit Reader(troupe::HttpClient http) : http_(std::move(http)) {}
    troupe::Task<std::size_t> on(const Fetch& f) {
      troupe::HttpResponse r = co_await http_.get(f.url);
      co_return r.body.size();
    }

   private:
    troupe::HttpClient http_;
  };
  Rig rig;
  auto reader = rig.system.spawn<Reader>({}, rig.http);
  CHECK(reader.ask(Fetch{rig.server.url("/rfc/rfc1.txt")}).get(kPatience) ==
        rig.server.rfc(1).size());
}

// -- the caps --------------------------------------------------------------------------------

TEST_CASE("twenty concurrent downloads complete with at most max_concurrent in flight") {
  Rig rig({.max_concurrent = 4, .max_per_host = 8});
  rig.server.set_latency("/images/", 30ms);  // so that transfers overlap on the server
  TempDir dir;
  std::vector<troupe::Future<troupe::Download>> downloads;
  for (int n = 1; n <= 20; ++n) {
    auto name = std::to_string(n) + ".jpg";
    downloads.push_back(rig.http.download(rig.server.url("/images/" + name), dir / name));
  }
  for (auto& d : downloads) REQUIRE(outcome(d) == "value");
  for (int n = 1; n <= 20; ++n) {
    CHECK(net_test::read_file(dir / (std::to_string(n) + ".jpg")) == rig.server.image(n));
  }
  CHECK(dir.names().size() == 20);
  CHECK(rig.server.max_in_flight() <= 4);
  CHECK(rig.server.max_in_flight() >= 2);  // they did overlap
}

TEST_CASE("max_per_host caps the transfers to one host") {
  Rig rig({.max_concurrent = 8, .max_per_host = 2});
  rig.server.set_latency("/rfc/", 30ms);
  std::vector<troupe::Future<troupe::HttpResponse>> gets;
  for (int n = 1; n <= 10; ++n) {
    gets.push_back(rig.http.get(rig.server.url("/rfc/rfc" + std::to_string(n) + ".txt")));
  }
  for (auto& g : gets) REQUIRE(outcome(g) == "value");
  CHECK(rig.server.max_in_flight() <= 2);
}

TEST_CASE("by default only max_concurrent caps the transfers to one host") {
  // Regression: a per-host default of 6 capped a caller who asked for 8 without saying so.
  Rig rig({.max_concurrent = 8});
  rig.server.set_latency("/rfc/", 1s);
  std::vector<troupe::Future<troupe::HttpResponse>> gets;
  for (int n = 1; n <= 12; ++n) {
    gets.push_back(rig.http.get(rig.server.url("/rfc/rfc" + std::to_string(n) + ".txt")));
  }
  for (auto& g : gets) REQUIRE(outcome(g) == "value");
  CHECK(rig.server.max_in_flight() == 8);
}

TEST_CASE("a host at its cap does not hold back requests to another host") {
  Rig rig({.max_concurrent = 4, .max_per_host = 1});
  fixture::Server other;
  rig.server.set_latency("/daily/", 1s);
  auto slow1 = rig.http.get(rig.server.url("/daily/usd.json"));
  auto slow2 = rig.http.get(rig.server.url("/daily/eur.json"));  // waits for slow1's slot
  auto fast = rig.http.get(other.url("/daily/gbp.json"));        // overtakes slow2
  REQUIRE(outcome(fast) == "value");
  CHECK(rig.server.requests() <= 1);  // slow2 was not even sent
  CHECK_FALSE(slow2.ready());
  CHECK(outcome(slow1) == "value");
  CHECK(outcome(slow2) == "value");
}

// -- failures --------------------------------------------------------------------------------

TEST_CASE("a port nobody listens on fails with connection_refused") {
  Rig rig;
  std::string url = "http://127.0.0.1:" + std::to_string(net_test::closed_port()) + "/x";
  auto e = http_error(rig.http.get(url));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::connection_refused);
  CHECK(e->url == url);
  CHECK(e->message == "GET " + url + ": connection refused");
}

TEST_CASE("a host name that does not resolve fails with dns") {
  Rig rig;
  auto e = http_error(rig.http.get("http://no-such-host.invalid/x", {.timeout = 25s}));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::dns);
  CHECK(e->message ==
        "GET http://no-such-host.invalid/x: could not resolve host 'no-such-host.invalid'");
}

TEST_CASE("a 404 and a 500 fail with status, carrying the code") {
  Rig rig;
  auto not_found = http_error(rig.http.get(rig.server.url("/status/404")));
  REQUIRE(not_found);
  CHECK(not_found->failure == HttpFailure::status);
  CHECK(not_found->status == 404);
  CHECK(not_found->message == "GET " + rig.server.url("/status/404") + ": HTTP 404 Not Found");

  auto server_error = http_error(rig.http.get(rig.server.url("/status/500")));
  REQUIRE(server_error);
  CHECK(server_error->failure == HttpFailure::status);
  CHECK(server_error->status == 500);

  TempDir dir;  // a download of an error page leaves nothing behind
  auto failed = http_error(rig.http.download(rig.server.url("/status/503"), dir / "page"));
  REQUIRE(failed);
  CHECK(failed->status == 503);
  CHECK(dir.names().empty());
}

TEST_CASE("a server slower than the timeout fails with timeout") {
  Rig rig({.timeout = 100ms});
  rig.server.set_latency("/daily/", 500ms);
  auto start = std::chrono::steady_clock::now();
  auto e = http_error(rig.http.get(rig.server.url("/daily/eur.json")));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::timeout);
  CHECK(e->message == "GET " + rig.server.url("/daily/eur.json") + ": timed out after 100 ms");
  CHECK(std::chrono::steady_clock::now() - start < 5s);  // it did not wait for the answer

  // A per-request timeout overrides the client's.
  CHECK(outcome(rig.http.get(rig.server.url("/daily/usd.json"), {.timeout = 5s})) == "value");
}

TEST_CASE("a body over max_body fails with too_large, in memory and on disk") {
  Rig rig({.max_body = 10'000});
  auto e = http_error(rig.http.get(rig.server.url("/images/1.jpg")));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::too_large);
  CHECK(e->message.find("larger than the limit of 10000 bytes") != std::string::npos);

  TempDir dir;
  auto d = http_error(rig.http.download(rig.server.url("/images/1.jpg"), dir / "1.jpg"));
  REQUIRE(d);
  CHECK(d->failure == HttpFailure::too_large);
  CHECK(dir.names().empty());

  // A per-request limit overrides the client's.
  CHECK(outcome(rig.http.get(rig.server.url("/images/1.jpg"), {.max_body = 1 << 20})) == "value");
}

TEST_CASE("an existing file is not replaced without overwrite, and nothing is fetched") {
  Rig rig;
  TempDir dir;
  net_test::write_file(dir / "2.jpg", "keep me");
  auto before = rig.server.requests();
  auto e = http_error(rig.http.download(rig.server.url("/images/2.jpg"), dir / "2.jpg"));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::file);
  CHECK(e->message.find("already exists (pass overwrite to replace it)") != std::string::npos);
  CHECK(rig.server.requests() == before);
  CHECK(net_test::read_file(dir / "2.jpg") == "keep me");
  CHECK(dir.names() == std::set<std::string>{"2.jpg"});
}

TEST_CASE("a folder that cannot be written fails with file before any transfer") {
  Rig rig;
  TempDir dir;
  net_test::write_file(dir / "plain", "a file, not a folder");
  auto before = rig.server.requests();

  auto not_a_folder =
      http_error(rig.http.download(rig.server.url("/images/3.jpg"), dir / "plain" / "3.jpg"));
  REQUIRE(not_a_folder);
  CHECK(not_a_folder->failure == HttpFailure::file);
  CHECK(not_a_folder->message.find("Not a directory") != std::string::npos);

  auto missing =
      http_error(rig.http.download(rig.server.url("/images/3.jpg"), dir / "nope" / "3.jpg"));
  REQUIRE(missing);
  CHECK(missing->failure == HttpFailure::file);

  if (::geteuid() != 0) {  // root writes into read-only folders anyway
    std::filesystem::create_directory(dir / "ro");
    std::filesystem::permissions(
        dir / "ro", std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    auto read_only =
        http_error(rig.http.download(rig.server.url("/images/3.jpg"), dir / "ro" / "3.jpg"));
    REQUIRE(read_only);
    CHECK(read_only->failure == HttpFailure::file);
    std::filesystem::permissions(dir / "ro", std::filesystem::perms::owner_all);
  }
  CHECK(rig.server.requests() == before);
}

TEST_CASE("an interrupted download leaves no partial file and the other files intact") {
  Rig rig;
  TempDir dir;
  rig.server.cut_after("/images/3.jpg", 5000);
  auto one = rig.http.download(rig.server.url("/images/1.jpg"), dir / "1.jpg");
  auto two = rig.http.download(rig.server.url("/images/2.jpg"), dir / "2.jpg");
  auto three = rig.http.download(rig.server.url("/images/3.jpg"), dir / "3.jpg");
  auto e = http_error(three);
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::interrupted);
  REQUIRE(outcome(one) == "value");
  REQUIRE(outcome(two) == "value");
  CHECK(dir.names() == std::set<std::string>{"1.jpg", "2.jpg"});
  CHECK(net_test::read_file(dir / "1.jpg") == rig.server.image(1));
  CHECK(net_test::read_file(dir / "2.jpg") == rig.server.image(2));
}

TEST_CASE("URLs that are not http or https fail with other, naming the problem") {
  Rig rig;
  auto garbage = http_error(rig.http.get("not a url"));
  REQUIRE(garbage);
  CHECK(garbage->failure == HttpFailure::other);
  CHECK(garbage->message.find("not a valid URL") != std::string::npos);

  auto file = http_error(rig.http.get("file:///etc/passwd"));
  REQUIRE(file);
  CHECK(file->failure == HttpFailure::other);
  CHECK(file->message.find("only http and https") != std::string::npos);
}

// -- the concurrency win ---------------------------------------------------------------------

TEST_CASE("fourteen requests with 50 ms latency finish much faster concurrently than in turn") {
  Rig rig({.max_concurrent = 16, .max_per_host = 16});
  rig.server.set_latency("/daily/", 50ms);
  std::vector<std::string> bases = rig.server.bases();
  bases.resize(14);

  auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : bases) rig.http.get(rig.server.url("/daily/" + b + ".json")).get(kPatience);
  auto sequential = std::chrono::steady_clock::now() - t0;

  auto t1 = std::chrono::steady_clock::now();
  std::vector<troupe::Future<troupe::HttpResponse>> all;
  for (const auto& b : bases) all.push_back(rig.http.get(rig.server.url("/daily/" + b + ".json")));
  for (auto& f : all) REQUIRE(outcome(f) == "value");
  auto concurrent = std::chrono::steady_clock::now() - t1;

  INFO("sequential " << seconds(sequential) << " s, concurrent " << seconds(concurrent) << " s");
  CHECK(sequential >= 14 * 50ms);
  CHECK(concurrent < sequential / 2);
}

// -- stopping --------------------------------------------------------------------------------

TEST_CASE("a shutdown while transfers are in flight resolves every future and removes temp files") {
  fixture::Server server;
  TempDir dir;
  server.set_latency("/", 5s);  // nothing finishes before the shutdown
  std::vector<troupe::Future<troupe::Download>> downloads;
  std::vector<troupe::Future<troupe::HttpResponse>> gets;
  {
    troupe::System system{{.workers = 2}};
    troupe::HttpClient http(system, {.max_concurrent = 4});
    for (int n = 1; n <= 6; ++n) {
      auto name = std::to_string(n) + ".jpg";
      downloads.push_back(http.download(server.url("/images/" + name), dir / name));
      gets.push_back(http.get(server.url("/rfc/rfc" + std::to_string(n) + ".txt")));
    }
    // Four are running (their temporary files exist), the rest wait.
    REQUIRE(eventually([&] { return server.max_in_flight() == 4; }));
    auto start = std::chrono::steady_clock::now();
    system.shutdown(2s);
    CHECK(std::chrono::steady_clock::now() - start < 2s);  // the client stopped at once
  }
  for (auto& d : downloads) CHECK(outcome(d) == "ActorStopped");
  for (auto& g : gets) CHECK(outcome(g) == "ActorStopped");
  CHECK(dir.names().empty());
}

TEST_CASE("stop fails transfers in flight and every later request with ActorStopped") {
  Rig rig;
  rig.server.set_latency("/daily/", 5s);
  auto pending = rig.http.get(rig.server.url("/daily/eur.json"));
  REQUIRE(eventually([&] { return rig.server.max_in_flight() == 1; }));
  rig.http.stop();
  CHECK(outcome(pending) == "ActorStopped");
  CHECK(eventually([&] { return !rig.http.alive(); }));
  CHECK(outcome(rig.http.get(rig.server.url("/daily/usd.json"))) == "ActorStopped");
}

TEST_CASE("when the last handle goes, the client answers what it has and then stops") {
  fixture::Server server;
  troupe::System system{{.workers = 2}};
  server.set_latency("/daily/", 100ms);
  auto before = system.count();
  troupe::Future<troupe::HttpResponse> pending;
  {
    troupe::HttpClient http(system);
    CHECK(system.count() == before + 1);
    pending = http.get(server.url("/daily/eur.json"));
  }
  CHECK(outcome(pending) == "value");  // not cut short by the handle going away
  CHECK(eventually([&] { return system.count() == before; }));
}

TEST_CASE("bad options are refused at construction") {
  troupe::System system{{.workers = 1}};
  CHECK_THROWS_AS(troupe::HttpClient(system, {.max_concurrent = 0}), std::invalid_argument);
  CHECK_THROWS_AS(troupe::HttpClient(system, {.timeout = 0ms}), std::invalid_argument);
}
