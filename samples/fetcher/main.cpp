// fetcher - exchange rates fetched one by one, all at once, and by a pool (seed 000, "Lets look
// at an example to see performance", "Now lets run it as a threaded process", "Thread Pool").
//
// The seed downloads floatrates' daily JSON for several base currencies three ways:
//
//     for base in bases:                       # one after the other
//         fetch_rate(base, rates)
//
//     for base in bases:                       # a thread per base
//         Thread(target=fetch_rate, args=(base, rates)).start()
//
//     work_queue = Queue()                     # THREAD_POOL_SIZE threads sharing a queue
//     for base in bases: work_queue.put(base)
//     threads = [Thread(target=worker, args=(work_queue,)) for _ in range(THREAD_POOL_SIZE)]
//     work_queue.join()
//
// and prints one line per base: `eur = eur    1.000, jpy    163.2, ...`.
//
// Here the same three shapes are actors. A RateFetcher's handler is a coroutine: it sends
// the request to troupe's HTTP client actor and `co_await`s the answer, so while the request
// is on the wire no thread waits for it at all. The HTTP actor multiplexes every transfer on
// one libcurl multi handle, so "a thread per base" becomes "an actor per base", and fourteen
// concurrent requests cost fourteen small objects, not fourteen threads.
//
// Without --base-url the sample starts the embedded fixture server on 127.0.0.1 (the
// same JSON shape, made-up rates) and says so on stderr: no network needed. With
// --base-url https://www.floatrates.com/daily/ it fetches the real thing.
//
// Usage: fetcher [--bases eur,jpy,...] [--symbols eur,jpy,...]
//                [--mode sequential|concurrent|pool|all] [--workers N]
//                [--base-url URL] [--timeout-ms N] [--latency-ms N] [--json FILE]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <troupe/http.hpp>
#include <troupe/troupe.hpp>
#include <troupe/work_queue.hpp>

#include <fixture/server.hpp>  // the loopback test server (tests/fixture), not troupe

using namespace std::chrono;
using Clock = std::chrono::steady_clock;

namespace {

// -- what one fetch produces ----------------------------------------------------------------

/// The rates of one base currency, or why they could not be had.
struct Rates {
  std::string base;
  std::vector<std::pair<std::string, double>> rates;  // in the order of --symbols
  std::string error;                                  // empty on success
  double seconds = 0;                                 // how long this fetch took
};

/// Where and how to fetch: shared, read-only, by every fetcher.
struct Source {
  troupe::HttpClient http;
  std::string prefix;  // the URL of a base is prefix + base + ".json"
  std::vector<std::string> symbols;
  milliseconds timeout;
};

/// rate = response.json(); rate[base] = {'rate': 1}; then rate[symbol]['rate'] per symbol.
/// Throws with a readable message if the document is not JSON or lacks a symbol.
std::vector<std::pair<std::string, double>> parse_rates(const std::string& body,
                                                        const std::string& base,
                                                        const std::vector<std::string>& symbols,
                                                        const std::string& url) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error("malformed JSON from " + url + ": " + e.what());
  }
  std::vector<std::pair<std::string, double>> out;
  for (const std::string& symbol : symbols) {
    if (symbol == base) {  // a document does not list its own base
      out.emplace_back(symbol, 1.0);
      continue;
    }
    auto entry = doc.find(symbol);
    if (!doc.is_object() || entry == doc.end() || !entry->is_object() || !entry->contains("rate") ||
        !(*entry)["rate"].is_number()) {
      throw std::runtime_error("no rate for '" + symbol + "' in " + url);
    }
    out.emplace_back(symbol, (*entry)["rate"].get<double>());
  }
  return out;
}

// def fetch_rate(base, symbols): response = requests.get(url); ...
// A coroutine: `co_await` hands the request to the HTTP actor and suspends; the worker
// thread goes on with other actors, and this resumes when the response is there. Arguments
// are taken by value: a coroutine outlives the call that started it.
troupe::Task<Rates> fetch_rates(Source source, std::string base) {
  Rates result;
  result.base = base;
  auto t0 = Clock::now();
  std::string url = source.prefix + base + ".json";
  // The future is kept in a variable, not awaited as a temporary, so that this frame
  // still holds the error it may carry while the catch below reads it. (Otherwise
  // ThreadSanitizer, which cannot see libstdc++'s reference count of exceptions, reports
  // the HTTP actor's thread freeing the error as a race with reading it here.)
  troupe::Future<troupe::HttpResponse> reply = source.http.get(url, {.timeout = source.timeout});
  try {
    troupe::HttpResponse response = co_await reply;
    result.rates = parse_rates(response.body, base, source.symbols, url);
  } catch (const std::exception& e) {
    result.error = e.what();  // HttpError: refused, timeout, HTTP 404... each says which
  }
  result.seconds = duration<double>(Clock::now() - t0).count();
  co_return result;
}

// -- the actors -----------------------------------------------------------------------------

struct Fetch {
  std::string base;
};
struct Work {};
struct Report {};

// Fetches the rates of whichever base it is asked for. Failures are part of the answer, so
// one bad base never takes the actor (or the other bases) down.
class RateFetcher : public troupe::Actor {
 public:
  explicit RateFetcher(Source source) : source_(std::move(source)) {}
  troupe::Task<Rates> on(Fetch f) { co_return co_await fetch_rates(source_, std::move(f.base)); }

 private:
  Source source_;
};

// One of the pool's workers: def worker(work_queue): while ...: item = work_queue.get(); ...
class PoolWorker : public troupe::Actor {
 public:
  PoolWorker(Source source, troupe::WorkQueue<std::string> queue)
      : source_(std::move(source)), queue_(std::move(queue)) {}

  troupe::Task<void> on(Work) {
    try {
      for (;;) {
        std::string base = co_await queue_.get();
        Rates rates = co_await fetch_rates(source_, base);
        done_.push_back(std::move(rates));
        queue_.task_done();
      }
    } catch (const troupe::Cancelled&) {  // the program is ending
    }
  }
  // Handled between the loop's awaits: what this worker has fetched so far.
  std::vector<Rates> on(Report) const { return done_; }

 private:
  Source source_;
  troupe::WorkQueue<std::string> queue_;
  std::vector<Rates> done_;
};

// -- the three ways -------------------------------------------------------------------------

// Each returns the rates in the order of `bases`. Main is a plain thread: it may block in get.
const auto kPatience = minutes(10);

std::vector<Rates> run_sequential(troupe::System& system, const Source& source,
                                  const std::vector<std::string>& bases) {
  auto fetcher = system.spawn<RateFetcher>(troupe::SpawnOptions{}, source);
  std::vector<Rates> all;
  for (const std::string& base : bases) {
    all.push_back(fetcher.ask(Fetch{base}).get(kPatience));  // wait for each before the next
  }
  fetcher.stop();
  return all;
}

std::vector<Rates> run_concurrent(troupe::System& system, const Source& source,
                                  const std::vector<std::string>& bases) {
  std::vector<troupe::Ref<RateFetcher>> fetchers;
  std::vector<troupe::Future<Rates>> pending;
  for (const std::string& base : bases) {  // an actor per base, like a thread per base
    fetchers.push_back(system.spawn<RateFetcher>(troupe::SpawnOptions{}, source));
    pending.push_back(fetchers.back().ask(Fetch{base}));
  }
  // for t in threads: t.join() -- one future of every answer, in the order of `bases`.
  std::vector<Rates> all = troupe::when_all(std::move(pending)).get(kPatience);
  // Not earlier: stopping an actor destroys a coroutine it is still waiting in.
  for (auto& fetcher : fetchers) fetcher.stop();
  return all;
}

std::vector<Rates> run_pool(troupe::System& system, const Source& source,
                            const std::vector<std::string>& bases, int workers) {
  troupe::WorkQueue<std::string> queue(system);
  for (const std::string& base : bases) queue.put(base);
  std::vector<troupe::Ref<PoolWorker>> pool;
  for (int i = 0; i < workers; ++i) {
    pool.push_back(system.spawn<PoolWorker>(troupe::SpawnOptions{.daemon = true}, source, queue));
    pool.back().tell(Work{});
  }
  queue.join().get(kPatience);  // work_queue.join(): every base fetched
  std::vector<Rates> all;
  for (auto& worker : pool) {
    for (Rates& r : worker.ask(Report{}).get(kPatience)) all.push_back(std::move(r));
    worker.stop();
  }
  // Back in the order of `bases`, as the other two ways print them.
  std::vector<Rates> ordered;
  for (const std::string& base : bases) {
    for (auto& r : all) {
      if (r.base == base && !r.base.empty()) {
        ordered.push_back(std::move(r));
        r.base.clear();
        break;
      }
    }
  }
  return ordered;
}

// -- printing -------------------------------------------------------------------------------

/// Four significant digits, as Python's `{:10.04}` in the seed, without its exponents.
std::string four_digits(double v) {
  int magnitude = v == 0 ? 0 : static_cast<int>(std::floor(std::log10(std::fabs(v))));
  int decimals = magnitude >= 3 ? 0 : 3 - magnitude;
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// def print_rates(base, rate, symbols): print(f"{base} = {rates_line}")
void print_row(const Rates& r) {
  std::string line = r.base + " = ";
  if (!r.error.empty()) {
    line += "error: " + r.error;
  } else {
    for (std::size_t i = 0; i < r.rates.size(); ++i) {
      char cell[80];
      std::snprintf(cell, sizeof cell, "%s%s %8s", i ? ", " : "", r.rates[i].first.c_str(),
                    four_digits(r.rates[i].second).c_str());
      line += cell;
    }
  }
  std::printf("%s\n", line.c_str());
}

nlohmann::json to_json(const std::vector<Rates>& all, double seconds) {
  nlohmann::json mode = {{"seconds", seconds},
                         {"rates", nlohmann::json::object()},
                         {"errors", nlohmann::json::object()}};
  for (const Rates& r : all) {
    if (!r.error.empty()) {
      mode["errors"][r.base] = r.error;
      continue;
    }
    for (const auto& [symbol, rate] : r.rates) mode["rates"][r.base][symbol] = rate;
  }
  return mode;
}

/// Every transfer in flight holds a socket (and a download a file too): with hundreds at
/// once the usual soft limit of 1,024 open files runs out, so raise it to the hard limit,
/// as servers do. Quietly does nothing if it cannot.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fetcher: exchange rates fetched sequentially, concurrently and by a pool of actors"};
  std::vector<std::string> bases = {"eur", "jpy", "usd", "rub", "cad"};
  std::vector<std::string> symbols = {"eur", "jpy", "usd", "rub", "cad"};
  std::string mode = "all";
  int workers = 4;
  std::string base_url;
  int timeout_ms = 10'000;
  int latency_ms = 0;
  std::string json_path;
  app.add_option("--bases", bases, "base currencies to fetch, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--symbols", symbols, "currencies to show for each base")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--mode", mode, "sequential, concurrent, pool, or all three in turn")
      ->check(CLI::IsMember({"sequential", "concurrent", "pool", "all"}))
      ->capture_default_str();
  app.add_option("--workers", workers, "actors in the pool (the seed's THREAD_POOL_SIZE)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--base-url", base_url,
                 "where <base>.json lives, e.g. https://www.floatrates.com/daily/ "
                 "(default: an embedded server)");
  app.add_option("--timeout-ms", timeout_ms, "timeout of each request")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  app.add_option("--latency-ms", latency_ms, "make the embedded server wait this long per request")
      ->check(CLI::Range(0, 60'000));
  app.add_option("--json", json_path,
                 "also write the rates and timings as JSON to FILE ('-': stdout)");
  CLI11_PARSE(app, argc, argv);
  raise_open_file_limit();
  if (bases.empty() || symbols.empty()) {
    std::fprintf(stderr, "fetcher: --bases and --symbols need at least one currency\n");
    return 2;
  }
  if (latency_ms > 0 && !base_url.empty()) {
    std::fprintf(stderr, "fetcher: --latency-ms applies to the embedded server, not --base-url\n");
    return 2;
  }

  // No base URL: serve the data ourselves, on loopback. Declared before the System, so it
  // outlives every request the actors make.
  std::unique_ptr<fixture::Server> server;
  if (base_url.empty()) {
    try {
      server = std::make_unique<fixture::Server>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fetcher: cannot start the embedded server: %s\n", e.what());
      return 1;
    }
    if (latency_ms > 0) server->set_latency("/daily/", milliseconds(latency_ms));
    base_url = server->url("/daily/");
    std::fprintf(
        stderr, "fetcher: no --base-url given: using the embedded server at %s%s\n",
        base_url.c_str(),
        latency_ms > 0 ? (" with " + std::to_string(latency_ms) + " ms latency").c_str() : "");
  }
  if (base_url.back() != '/') base_url += '/';

  troupe::System system;
  // The HTTP client actor. It caps transfers in flight (16 by default); here the point is to
  // compare the shapes, so its cap is set to the most any shape asks for: an actor per base
  // (concurrent) or --workers (pool). No other cap applies (max_per_host stays 0, none).
  const std::size_t most_in_flight = std::max<std::size_t>(bases.size(), workers);
  troupe::HttpClient http(system, {.max_concurrent = most_in_flight});
  const Source source{http, base_url, symbols, milliseconds(timeout_ms)};

  std::vector<std::string> modes;
  if (mode == "all") {
    modes = {"sequential", "concurrent", "pool"};
  } else {
    modes = {mode};
  }

  nlohmann::json report = {{"base_url", base_url}, {"modes", nlohmann::json::object()}};
  std::vector<std::pair<std::string, double>> timings;
  int failures = 0;
  for (const std::string& m : modes) {
    if (m == "sequential") {
      std::printf("== sequential: one actor fetches the bases one after another\n");
    } else if (m == "concurrent") {
      std::printf("== concurrent: an actor per base, all at once\n");
    } else {
      std::printf("== pool: %d actors share a work queue of bases\n", workers);
    }
    auto t0 = Clock::now();
    std::vector<Rates> all = m == "sequential"   ? run_sequential(system, source, bases)
                             : m == "concurrent" ? run_concurrent(system, source, bases)
                                                 : run_pool(system, source, bases, workers);
    double seconds = duration<double>(Clock::now() - t0).count();
    for (const Rates& r : all) {
      print_row(r);
      if (!r.error.empty()) {
        ++failures;
        std::fprintf(stderr, "fetcher: %s (%s): %s\n", r.base.c_str(), m.c_str(), r.error.c_str());
      }
    }
    std::printf("Total time (%s): %.3f s\n", m.c_str(), seconds);
    std::fflush(stdout);
    timings.emplace_back(m, seconds);
    report["modes"][m] = to_json(all, seconds);
  }

  if (timings.size() > 1) {
    // How much faster than the first (sequential) way each other way was.
    std::string line = "timings:";
    for (std::size_t i = 0; i < timings.size(); ++i) {
      const auto& [m, s] = timings[i];
      char cell[96];
      std::snprintf(cell, sizeof cell, "%s %s %.3f s", i ? "," : "", m.c_str(), s);
      line += cell;
      if (i > 0 && s > 0) {
        std::snprintf(cell, sizeof cell, " (%.1fx faster)", timings.front().second / s);
        line += cell;
      }
    }
    std::printf("%s\n", line.c_str());
  }

  if (!json_path.empty()) {
    if (json_path == "-") {
      std::cout << report.dump(2) << "\n";
    } else {
      std::ofstream out(json_path);
      out << report.dump(2) << "\n";
      if (!out.flush()) {
        std::fprintf(stderr, "fetcher: cannot write %s\n", json_path.c_str());
        return 1;
      }
    }
  }
  if (failures > 0) {
    std::fprintf(stderr, "fetcher: %d fetch(es) failed\n", failures);
    return 1;
  }
  return 0;
}
