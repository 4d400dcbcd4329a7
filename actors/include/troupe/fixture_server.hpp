// troupe/fixture_server.hpp - a loopback HTTP server with known content, for tests and for
// the samples' no-network default. In library troupe_fixture (cpp-httplib).
//
//   troupe::FixtureServer server;                       // 127.0.0.1, an ephemeral port
//   std::string url = server.url("/daily/eur.json");    // "http://127.0.0.1:PORT/daily/eur.json"
//   double jpy = server.rate("eur", "jpy");             // what that document says, exactly
//   server.set_latency("/daily/", 50ms);                // every rates request waits 50 ms
//
// Routes (GET):
//   /daily/<base>.json   floatrates-shaped rates for each of bases(): an object keyed by the
//                        lower-case code of every other currency, each {"code", "alphaCode",
//                        "name", "rate", "inverseRate", "date"}; 1 <base> = rate <code>
//   /images/<n>.jpg      image(n): 20-200 KB of deterministic bytes behind a JPEG header
//   /rfc/rfc<n>.txt      rfc(n): 100-400 KB of English-like text, rfc_word_count(n) words
//   /status/<code>       answers with that status (200-599)
// n runs from 1 to 9999. Anything else is a 404.
//
// Faults are injected per route prefix (the longest matching prefix wins; "/" matches all):
// latency before answering, a failure status instead of the content, a connection cut
// after some bytes of the body (the full Content-Length is announced), or invalid JSON.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace troupe {

namespace detail {
struct FixtureState;
}

/// A loopback HTTP server with deterministic content and injectable faults. Not copyable.
/// Every member is thread-safe; content accessors are pure functions of their arguments, so
/// two servers serve the same bytes.
class FixtureServer {
 public:
  /// Binds 127.0.0.1 on an ephemeral port and serves on threads of its own; returns once
  /// it accepts connections. A pool of 32 threads serves 32 connections at a time (an idle
  /// keep-alive connection holds its thread for up to 1 s). Throws std::runtime_error if it
  /// cannot bind.
  FixtureServer();
  /// Stops serving and joins its threads. Requests still sleeping in injected latency are
  /// cut short; their connections are closed.
  ~FixtureServer();
  FixtureServer(const FixtureServer&) = delete;
  FixtureServer& operator=(const FixtureServer&) = delete;

  // -- where it listens ------------------------------------------------------------------

  /// "http://127.0.0.1:PORT", without a trailing slash.
  std::string base_url() const;
  /// base_url() + path; `path` starts with '/'.
  std::string url(std::string_view path) const;
  /// The port it listens on.
  int port() const noexcept;

  // -- the content it serves -------------------------------------------------------------

  /// The lower-case currency codes with a /daily/<base>.json document, sorted.
  std::vector<std::string> bases() const;
  /// The rate in /daily/<base>.json for `code` (both lower-case): 1 base = rate code.
  /// Exactly the double the JSON parses to. Throws std::out_of_range for unknown codes or
  /// base == code (a document does not list its own base).
  double rate(const std::string& base, const std::string& code) const;
  /// The "date" field of every rate.
  static const char* date() noexcept;
  /// The bytes of /images/<n>.jpg. The reference stays valid while the server lives.
  /// Throws std::out_of_range unless 1 <= n <= 9999.
  const std::string& image(int n) const;
  /// The text of /rfc/rfc<n>.txt. Throws std::out_of_range unless 1 <= n <= 9999.
  std::string rfc(int n) const;
  /// Whitespace-separated tokens in rfc(n) (what `std::cin >> word` would count).
  std::size_t rfc_word_count(int n) const;

  // -- what it has seen ------------------------------------------------------------------

  /// Requests received so far (every route, 404s and injected failures included).
  std::uint64_t requests() const noexcept;
  /// The most requests that were being handled at the same time since construction (or
  /// the last reset), counted from arrival to the end of the handler (latency included).
  std::size_t max_in_flight() const noexcept;
  /// Starts max_in_flight() again from the number in flight now.
  void reset_max_in_flight() noexcept;

  // -- faults, per route prefix ----------------------------------------------------------

  /// Waits `delay` before answering requests under `prefix`; 0 removes it.
  void set_latency(const std::string& prefix, std::chrono::milliseconds delay);
  /// Answers requests under `prefix` with `status` (400..599, e.g. 500) instead of the
  /// content; 0 removes it. Throws std::invalid_argument for other statuses.
  void set_failure(const std::string& prefix, int status);
  /// Announces the full Content-Length for requests under `prefix`, sends `bytes` of the
  /// body and closes the connection (an interrupted download).
  void cut_after(const std::string& prefix, std::size_t bytes);
  /// Serves invalid JSON (a truncated document) for requests under `prefix`.
  void set_malformed(const std::string& prefix, bool on = true);
  /// Removes every injected fault.
  void clear_faults();

 private:
  std::unique_ptr<detail::FixtureState> state_;
};

}  // namespace troupe
