// Tests of fixture::Server (tests/fixture/server.cpp): the content it serves is
// what its accessors say, and each injected fault does what it promises. Requests go
// through troupe::HttpClient.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fixture/server.hpp>
#include <nlohmann/json.hpp>

#include "net_test.hpp"
#include <troupe/http.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;
using net_test::http_error;
using net_test::kPatience;
using net_test::outcome;
using troupe::HttpFailure;

namespace {

struct Rig {
  fixture::Server server;
  troupe::System system{{.workers = 2}};
  troupe::HttpClient http{system};

  std::string body(const std::string& path) {
    return http.get(server.url(path)).get(kPatience).body;
  }
  /// How long a GET of `path` takes, whatever its outcome.
  std::chrono::steady_clock::duration time(const std::string& path) {
    auto start = std::chrono::steady_clock::now();
    http.get(server.url(path)).wait_for(kPatience);
    return std::chrono::steady_clock::now() - start;
  }
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// -- where it listens ------------------------------------------------------------------------

TEST_CASE("the server listens on a loopback port of its own and says where") {
  fixture::Server a;
  fixture::Server b;
  CHECK(a.port() > 0);
  CHECK(a.port() != b.port());
  CHECK(a.base_url() == "http://127.0.0.1:" + std::to_string(a.port()));
  CHECK(a.url("/x") == a.base_url() + "/x");
}

// -- content ---------------------------------------------------------------------------------

TEST_CASE("the rates documents have floatrates' shape for at least the seventeen bases") {
  Rig rig;
  std::vector<std::string> bases = rig.server.bases();
  for (const char* wanted : {"eur", "gbp", "aud", "chf", "cad", "kes", "bhd", "egp", "krw", "cop",
                             "bbd", "djf", "hnl", "ugx", "usd", "jpy", "rub"}) {
    CHECK(std::find(bases.begin(), bases.end(), wanted) != bases.end());
  }
  CHECK(std::is_sorted(bases.begin(), bases.end()));

  auto doc = nlohmann::json::parse(rig.body("/daily/jpy.json"));
  REQUIRE(doc.is_object());
  const auto& usd = doc.at("usd");
  CHECK(usd.at("code") == "USD");
  CHECK(usd.at("alphaCode") == "USD");
  CHECK(usd.at("name") == "U.S. Dollar");
  CHECK(usd.at("date") == fixture::Server::date());
  CHECK(usd.at("rate").get<double>() == rig.server.rate("jpy", "usd"));
  CHECK(usd.at("inverseRate").get<double>() == rig.server.rate("usd", "jpy"));
  for (const auto& [code, entry] : doc.items()) CHECK(entry.at("code") == upper(code));
}

TEST_CASE("rates are consistent: a rate and the reverse rate multiply to about one") {
  fixture::Server server;
  for (const auto& a : server.bases()) {
    for (const auto& b : server.bases()) {
      if (a == b) continue;
      CHECK(server.rate(a, b) * server.rate(b, a) == Approx(1.0).epsilon(1e-12));
    }
  }
  CHECK(server.rate("usd", "bbd") == 2.0);
  CHECK_THROWS_AS(server.rate("usd", "usd"), std::out_of_range);
  CHECK_THROWS_AS(server.rate("usd", "xyz"), std::out_of_range);
}

TEST_CASE("images are deterministic, 20 to 200 KB, and start and end like a JPEG") {
  Rig rig;
  fixture::Server other;
  for (int n : {1, 2, 50, 9999}) {
    const std::string& image = rig.server.image(n);
    CHECK(image == other.image(n));
    CHECK(image.size() >= 20 * 1024);
    CHECK(image.size() <= 200 * 1024);
    CHECK(image.substr(0, 3) == "\xFF\xD8\xFF");
    CHECK(image.substr(image.size() - 2) == "\xFF\xD9");
  }
  CHECK(rig.server.image(1) != rig.server.image(2));
  CHECK(rig.body("/images/50.jpg") == rig.server.image(50));
  CHECK_THROWS_AS(rig.server.image(0), std::out_of_range);
  CHECK_THROWS_AS(rig.server.image(fixture::kMaxN + 1), std::out_of_range);
}

TEST_CASE("RFC texts are 100 to 400 KB and rfc_word_count counts their words") {
  Rig rig;
  for (int n : {1, 2616, 9999}) {
    std::string text = rig.server.rfc(n);
    CHECK(text.size() >= 100 * 1024);
    CHECK(text.size() <= 401 * 1024);
    std::istringstream in(text);
    std::size_t words = 0;
    for (std::string w; in >> w;) ++words;
    CHECK(rig.server.rfc_word_count(n) == words);
    CHECK(text.find("Request for Comments: " + std::to_string(n)) != std::string::npos);
  }
  CHECK(rig.body("/rfc/rfc2616.txt") == rig.server.rfc(2616));
}

TEST_CASE("/status/<code> answers that code and unknown paths are 404") {
  Rig rig;
  CHECK(rig.body("/status/200") == "status 200\n");
  for (long code : {404L, 418L, 500L, 503L}) {
    auto e = http_error(rig.http.get(rig.server.url("/status/" + std::to_string(code))));
    REQUIRE(e);
    CHECK(e->status == code);
  }
  for (std::string path : {"/nothing", "/daily/xyz.json", "/images/0.jpg", "/images/x.jpg",
                           "/rfc/rfc.txt", "/status/", "/daily/.json"}) {
    auto e = http_error(rig.http.get(rig.server.url(path)));
    REQUIRE(e);
    CHECK(e->status == (path == "/status/" ? 400 : 404));
  }
  auto e = http_error(
      rig.http.get(rig.server.url("/rfc/rfc" + std::to_string(fixture::kMaxN + 1) + ".txt")));
  REQUIRE(e);
  CHECK(e->status == 404);
}

TEST_CASE("requests counts every request, failures included") {
  Rig rig;
  auto before = rig.server.requests();
  rig.body("/daily/usd.json");
  http_error(rig.http.get(rig.server.url("/status/500")));
  http_error(rig.http.get(rig.server.url("/missing")));
  CHECK(rig.server.requests() == before + 3);
}

// -- faults ----------------------------------------------------------------------------------

TEST_CASE("latency applies under its prefix only, the longest prefix winning") {
  Rig rig;
  rig.server.set_latency("/daily/", 300ms);
  rig.server.set_latency("/daily/usd", 0ms);  // removing is not overriding: still 300 ms
  rig.server.set_latency("/daily/eur", 1ms);
  CHECK(rig.time("/daily/gbp.json") >= 300ms);
  CHECK(rig.time("/daily/usd.json") >= 300ms);
  CHECK(rig.time("/daily/eur.json") < 300ms);
  CHECK(rig.time("/status/200") < 300ms);
  rig.server.clear_faults();
  CHECK(rig.time("/daily/gbp.json") < 300ms);
}

TEST_CASE("set_failure answers with its status instead of the content") {
  Rig rig;
  rig.server.set_failure("/images/", 503);
  auto e = http_error(rig.http.get(rig.server.url("/images/1.jpg")));
  REQUIRE(e);
  CHECK(e->status == 503);
  CHECK(outcome(rig.http.get(rig.server.url("/rfc/rfc1.txt"))) == "value");
  rig.server.set_failure("/images/", 0);
  CHECK(outcome(rig.http.get(rig.server.url("/images/1.jpg"))) == "value");
  CHECK_THROWS_AS(rig.server.set_failure("/", 200), std::invalid_argument);
}

TEST_CASE("set_malformed serves JSON that a parser rejects") {
  Rig rig;
  rig.server.set_malformed("/daily/eur.json");
  CHECK_THROWS_AS(nlohmann::json::parse(rig.body("/daily/eur.json")), nlohmann::json::parse_error);
  CHECK_NOTHROW(nlohmann::json::parse(rig.body("/daily/usd.json")));
  rig.server.set_malformed("/daily/eur.json", false);
  CHECK_NOTHROW(nlohmann::json::parse(rig.body("/daily/eur.json")));
}

TEST_CASE("cut_after announces the whole body and closes the connection early") {
  Rig rig;
  rig.server.cut_after("/rfc/", 1000);
  auto e = http_error(rig.http.get(rig.server.url("/rfc/rfc7.txt")));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::interrupted);
  rig.server.cut_after("/rfc/", 0);  // not even one byte of the body
  e = http_error(rig.http.get(rig.server.url("/rfc/rfc7.txt")));
  REQUIRE(e);
  CHECK(e->failure == HttpFailure::interrupted);
  CHECK(outcome(rig.http.get(rig.server.url("/images/7.jpg"))) == "value");
}

TEST_CASE("max_in_flight counts requests handled at the same time") {
  Rig rig;
  rig.server.set_latency("/", 200ms);
  std::vector<troupe::Future<troupe::HttpResponse>> gets;
  for (int i = 0; i < 3; ++i) gets.push_back(rig.http.get(rig.server.url("/status/200")));
  for (auto& g : gets) REQUIRE(outcome(g) == "value");
  CHECK(rig.server.max_in_flight() == 3);
  rig.server.reset_max_in_flight();
  CHECK(rig.server.max_in_flight() == 0);
}

TEST_CASE("the destructor does not wait out injected latency") {
  troupe::System system{{.workers = 2}};
  troupe::HttpClient http(system);
  troupe::Future<troupe::HttpResponse> pending;
  auto start = std::chrono::steady_clock::now();
  {
    fixture::Server server;
    server.set_latency("/", 20s);
    pending = http.get(server.url("/daily/usd.json"));
    REQUIRE(net_test::eventually([&] { return server.max_in_flight() == 1; }));
  }
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(outcome(pending) != "value");
}

// -- many at once ----------------------------------------------------------------------------

TEST_CASE("a request without latency is answered while others wait out theirs") {
  Rig rig;
  rig.server.set_latency("/daily/", 20s);
  std::vector<troupe::Future<troupe::HttpResponse>> waiting;
  troupe::HttpClient many(rig.system, {.max_concurrent = 50, .max_per_host = 50});
  for (int i = 0; i < 50; ++i) waiting.push_back(many.get(rig.server.url("/daily/usd.json")));
  REQUIRE(net_test::eventually([&] { return rig.server.in_flight() == 50; }));
  CHECK(rig.body("/status/200") == "status 200\n");  // not queued behind the fifty
  CHECK(rig.server.in_flight() == 50);               // they are still waiting
  many.stop();
}

TEST_CASE("the server holds two thousand requests in flight at once and answers them all") {
  // Latency is a timer in the server's event loop, not a thread per request: 2,000 requests
  // on 2,000 connections all wait out their latency at the same time. It is long so that
  // the client, which opens the connections one after another, has them all open before
  // the first is answered, even on a busy machine (under a sanitizer, longer still).
#ifdef TROUPE_SANITIZED
  constexpr auto kLatency = 10s;
#else
  constexpr auto kLatency = 2s;
#endif
  constexpr int kRequests = 2000;
  Rig rig;
  rig.server.set_latency("/", kLatency);
  troupe::HttpClient many(
      rig.system, {.max_concurrent = kRequests, .max_per_host = kRequests, .timeout = 120s});
  std::vector<troupe::Future<troupe::HttpResponse>> gets;
  gets.reserve(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    gets.push_back(many.get(rig.server.url("/status/" + std::to_string(200 + i % 2))));
  }
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    if (!gets[i].wait_for(120s)) break;
    try {
      answered += gets[i].get().body == "status " + std::to_string(200 + i % 2) + "\n" ? 1 : 0;
    } catch (const std::exception& e) {
      UNSCOPED_INFO("request " << i << ": " << e.what());
    }
  }
  CHECK(answered == kRequests);
  CHECK(rig.server.requests() == static_cast<std::uint64_t>(kRequests));
  // Most of them were waiting at the same moment.
  CHECK(rig.server.max_in_flight() >= kRequests * 3 / 4);
  CHECK(rig.server.in_flight() == 0);
}
