// status - check the HTTP status of several URLs at once (seed 002, "Introduction to Python
// Thread Class": HttpRequestThread).
//
// Python subclasses Thread and overrides run():
//
//     class HttpRequestThread(Thread):
//         def __init__(self, url):
//             super().__init__()
//             self.url = url
//         def run(self):
//             print(f"Checking {self.url}...")
//             try:
//                 response = urllib.request.urlopen(self.url)
//                 print(response.code)
//             except urllib.error.HTTPError as e:
//                 print(e.code)
//             except urllib.error.URLError as e:
//                 print(e.reason)
//
//     threads = [HttpRequestThread(url) for url in urls]
//     [t.start() for t in threads]; [t.join() for t in threads]
//
// The troupe way subclasses troupe::Actor and writes an `on` handler instead of run(). The
// state the thread kept in `self` (the URL) is the actor's member; start() is a message; the
// handler is a coroutine that waits for the HTTP client actor without holding a thread. Each
// check answers with its result, so main prints them in the order given, and nobody shares
// stdout mid-line.
//
// A status >= 400 is an answer like any other (the seed prints 400); a URL that gives no
// answer at all (refused, timed out, unknown host) is a failure, and makes the exit status 1.
// With --strict, statuses >= 400 count as failures too.
//
// Usage: status [URL...] [--base-url URL] [--timeout-ms N] [--strict]
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/http.hpp>
#include <troupe/troupe.hpp>

#include <fixture/server.hpp>  // the loopback test server (tests/fixture), not troupe

using namespace std::chrono;

namespace {

struct Check {};

/// What one check found: a status, or why there is none.
struct Result {
  std::string url;
  long status = 0;     // 0: no HTTP answer
  std::string reason;  // why there is no status
  double ms = 0;
};

// class HttpRequestThread(Thread)
class HttpRequest : public troupe::Actor {
 public:
  // def __init__(self, url): self.url = url
  HttpRequest(troupe::HttpClient http, std::string url, milliseconds timeout)
      : http_(std::move(http)), url_(std::move(url)), timeout_(timeout) {}

  // def run(self)
  troupe::Task<Result> on(Check) {
    std::printf("Checking %s...\n", url_.c_str());
    std::fflush(stdout);
    Result result;
    result.url = url_;
    auto t0 = steady_clock::now();
    // The future is kept in a variable, not awaited as a temporary, so that this frame
    // still holds the error it may carry while the catch below reads it. (Otherwise
    // ThreadSanitizer, which cannot see libstdc++'s reference count of exceptions, reports
    // the HTTP actor's thread freeing the error as a race with reading it here.)
    troupe::Future<troupe::HttpResponse> reply = http_.get(url_, {.timeout = timeout_});
    try {
      troupe::HttpResponse response = co_await reply;
      result.status = response.status;  // print(response.code)
    } catch (const troupe::HttpError& e) {
      if (e.failure() == troupe::HttpFailure::status) {
        result.status = e.status();  // except HTTPError as e: print(e.code)
      } else {
        result.reason = e.what();  // except URLError as e: print(e.reason)
      }
    } catch (const std::exception& e) {
      result.reason = e.what();
    }
    result.ms = duration<double, std::milli>(steady_clock::now() - t0).count();
    co_return result;
  }

 private:
  troupe::HttpClient http_;
  std::string url_;
  milliseconds timeout_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"status: the HTTP status of several URLs, checked concurrently by actors"};
  std::vector<std::string> urls;
  std::string base_url;
  int timeout_ms = 10'000;
  bool strict = false;
  app.add_option("URL", urls,
                 "URLs to check; one starting with / is relative to --base-url "
                 "(default: the seed's /status/200 and /status/400)");
  app.add_option("--base-url", base_url,
                 "what relative URLs are relative to (default: an "
                 "embedded server)");
  app.add_option("--timeout-ms", timeout_ms, "timeout of each request")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  app.add_flag("--strict", strict, "count a status of 400 or more as a failure");
  CLI11_PARSE(app, argc, argv);

  if (urls.empty()) urls = {"/status/200", "/status/400"};  // httpstat.us/200 and /400

  // Relative URLs and no --base-url: start the embedded server (before the System, so it
  // outlives every request).
  std::unique_ptr<fixture::Server> server;
  bool relative = false;
  for (const std::string& url : urls) relative = relative || url.starts_with("/");
  if (relative && base_url.empty()) {
    try {
      server = std::make_unique<fixture::Server>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "status: cannot start the embedded server: %s\n", e.what());
      return 1;
    }
    base_url = server->base_url();
    std::fprintf(stderr, "status: no --base-url given: using the embedded server at %s\n",
                 base_url.c_str());
  }
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();

  troupe::System system;
  troupe::HttpClient http(system);

  // threads = [HttpRequestThread(url) for url in urls]; t.start() for each
  std::vector<troupe::Ref<HttpRequest>> checkers;
  std::vector<troupe::Future<Result>> results;
  for (const std::string& u : urls) {
    std::string url = u.starts_with("/") ? base_url + u : u;
    checkers.push_back(
        system.spawn<HttpRequest>(troupe::SpawnOptions{}, http, url, milliseconds(timeout_ms)));
    results.push_back(checkers.back().ask(Check{}));
  }

  // t.join() for each: wait for every answer, then print them in the order given.
  int failures = 0;
  for (const Result& r : troupe::when_all(std::move(results)).get(hours(1))) {
    if (r.status != 0) {
      std::printf("%s: %ld (%.0f ms)\n", r.url.c_str(), r.status, r.ms);
      if (strict && r.status >= 400) ++failures;
    } else {
      std::printf("%s: no answer\n", r.url.c_str());
      std::fprintf(stderr, "status: %s\n", r.reason.c_str());
      ++failures;
    }
  }
  for (auto& checker : checkers) checker.stop();
  system.join();
  return failures == 0 ? 0 : 1;
}
