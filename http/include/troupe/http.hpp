// troupe/http.hpp - the HTTP client system actor (libcurl multi), in library troupe_http.
//
// One actor multiplexes every transfer on one libcurl multi handle: no thread per request.
// Link `troupe-http` (meson: dependency('troupe-http')); the core does not link libcurl.
//
//   troupe::HttpClient http(system, {.max_concurrent = 8, .max_per_host = 4});
//   troupe::HttpResponse r = http.get("http://127.0.0.1:8080/daily/eur.json").get(10s);
//   troupe::Download d = http.download(url, "out/rfc2616.txt").get(60s);
//   // inside a Task handler:  auto r = co_await http.get(url);
//
// Failures arrive through the futures as HttpError, whose failure() says what went wrong
// (dns, connection_refused, timeout, status, too_large, interrupted, file, other) and whose
// what() reads "GET <url>: <what happened>". A transfer still running when the client
// stops (System shutdown, or stop()) fails with ActorStopped; a download's temporary file
// is removed then too, so no partial file is ever left behind.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "troupe/errors.hpp"
#include "troupe/future.hpp"

namespace troupe {

class System;

/// Why a transfer failed. Each kind has its own message, naming the URL.
enum class HttpFailure {
  dns,                 ///< the host name did not resolve
  connection_refused,  ///< nothing listens there (or the connection could not be made)
  timeout,             ///< the request took longer than its timeout
  status,              ///< the server answered with HTTP status >= 400 (see `status`)
  too_large,           ///< the body exceeded the size limit
  interrupted,         ///< the connection closed before the whole body arrived
  file,                ///< the output file could not be written (or already exists)
  other,               ///< anything else libcurl reports (its message is kept), bad URLs
};

/// The name of a failure kind ("dns", "connection_refused", ...). Never throws.
TROUPE_API const char* to_string(HttpFailure failure) noexcept;

/// A failed HTTP transfer; arrives through the future of get()/download().
/// what() reads "GET <url>: <what happened>", e.g. "GET http://127.0.0.1:1/x: connection
/// refused". Immutable, so safe to share between threads.
class TROUPE_API HttpError : public Error {
 public:
  HttpError(HttpFailure failure, std::string url, long status, const std::string& what)
      : Error(what), failure_(failure), url_(std::move(url)), status_(status) {}
  /// What went wrong.
  HttpFailure failure() const noexcept { return failure_; }
  /// The URL as it was requested.
  const std::string& url() const noexcept { return url_; }
  /// The HTTP status for HttpFailure::status; 0 otherwise.
  long status() const noexcept { return status_; }

 private:
  HttpFailure failure_;
  std::string url_;
  long status_;
};

/// A response held in memory (status < 400: higher ones fail with HttpFailure::status).
/// A plain value.
struct HttpResponse {
  std::string url;           ///< the URL as requested
  long status = 0;           ///< the final HTTP status (after redirects)
  std::string body;          ///< the body, decoded if the server compressed it
  std::string content_type;  ///< the Content-Type header, "" if none
  /// From the call to get() to the last byte, time waiting for a free slot included.
  std::chrono::steady_clock::duration elapsed{};
};

/// A response streamed to a file. A plain value.
struct Download {
  std::string url;             ///< the URL as requested
  std::filesystem::path path;  ///< the final file (complete: it was renamed into place)
  std::uint64_t bytes = 0;     ///< bytes written to it
  /// From the call to download() to the rename, time waiting for a free slot included.
  std::chrono::steady_clock::duration elapsed{};
};

/// How the client behaves. Aggregate: `{.max_concurrent = 8, .timeout = 5s}`.
/// The two caps are the only limits on transfers in flight: the client sets no libcurl
/// connection cap of its own (it keeps up to max_concurrent idle connections for reuse).
struct HttpOptions {
  std::size_t max_concurrent = 16;  ///< transfers in flight at once (>= 1); the rest wait
  /// Transfers in flight to one scheme://host:port; 0 (the default): no cap of its own,
  /// max_concurrent alone applies. Set it (e.g. 6, as browsers do) to be gentle with a host.
  std::size_t max_per_host = 0;
  std::chrono::milliseconds timeout{30'000};     ///< default per-request timeout (> 0)
  std::uint64_t max_body = 64ull * 1024 * 1024;  ///< larger bodies fail with too_large
  std::string user_agent = "troupe/0.1";
  std::string name{};  ///< the actor's spawn name ("" for an unnamed actor); must be unique
};

/// Per-request settings. Aggregate: `{.timeout = 2s, .overwrite = true}`.
struct RequestOptions {
  std::chrono::milliseconds timeout{0};  ///< 0: the client's default
  bool overwrite = false;                ///< download(): replace an existing file
  std::uint64_t max_body = 0;            ///< 0: the client's default
};

namespace detail {
class HttpActor;
struct HttpClientState;
}  // namespace detail

/// A handle to the HTTP client actor. Copyable; copies share one actor. Thread-safe.
/// The actor runs on a dedicated thread (libcurl waits in poll there) as a daemon: it does
/// not keep System::join() waiting, and it stops with the system, failing the transfers
/// still in flight with ActorStopped. Waiting requests start in the order they were made,
/// except that a request to a host at its max_per_host cap lets later ones to other hosts
/// go first. When the last copy is destroyed, the actor answers the transfers it has (the
/// futures already handed out still resolve), then stops. Use a client only while its
/// System exists.
class TROUPE_API HttpClient {
 public:
  /// Spawns the client actor in `system`. Throws std::invalid_argument for a zero
  /// max_concurrent or timeout (or a taken name), ShutdownError if the
  /// system is shutting down, std::runtime_error if libcurl cannot be initialised.
  explicit HttpClient(System& system, HttpOptions options = {});

  /// Fetches `url` (http or https) into memory. Never blocks. Fails with HttpError, or
  /// ActorStopped if the client stops first.
  Future<HttpResponse> get(std::string url, RequestOptions options = {}) const;
  /// Streams `url` to `to`: written to a temporary name in the same folder
  /// ("<to>.part-<random>"), renamed to `to` when complete, removed on failure (so no
  /// partial file is ever left). Fails with HttpError(file) before any transfer if `to`
  /// exists and `overwrite` is false or its folder is not writable. Never blocks.
  Future<Download> download(std::string url, std::filesystem::path to,
                            RequestOptions options = {}) const;

  /// Stops the client: transfers in flight and waiting fail with ActorStopped (temporary
  /// files removed); later requests fail the same way. Idempotent. Never blocks.
  void stop() const noexcept;
  /// False once the client's actor has stopped.
  bool alive() const noexcept;

 private:
  std::shared_ptr<detail::HttpClientState> state_;
};

}  // namespace troupe
