// downloader - download many files, at most N at a time, then count the words of the text
// ones (seed 002 "Semaphore" and "Event", seed 004 "8. Image Downloading Examples").
//
// Seed 002 limits concurrent downloads with a Semaphore, one thread per URL:
//
//     semaphore = Semaphore(MAX_CONCURRENT_DOWNLOADS)   # 3
//     def download(url):
//         with semaphore:
//             print(f"Downloading {url}...")
//             data = request.urlopen(url).read()
//             print(f'Finished downloading {url}')
//
// and uses an Event so that one thread processes a file once another has downloaded it:
//
//     def process_file(event):
//         print("Waiting for the file to be downloaded...")
//         event.wait()
//         word_count = sum(len(line.split()) for line in open("rfc793.txt"))
//
// Here each URL gets a Downloader actor, as each got a thread. Its handler is a coroutine:
// `co_await semaphore.acquire()` waits for one of --max-concurrent permits (a troupe::Semaphore,
// served first come first served) without holding a worker thread, and the permit goes back
// when the Permit object goes out of scope, as with Python's `with semaphore:`. The transfer
// itself goes to troupe's HTTP client actor, which streams the body to a temporary file and
// renames it into place only when complete: an interrupted download never leaves a partial
// file behind. A Progress actor owns the progress display, so the downloaders never write to
// the terminal at the same time. A WordCounter actor waits on a troupe::Event for the
// downloads to finish, then counts the words in every downloaded .txt file.
//
// URLs come from the command line or --from FILE (one per line). A URL that starts with "/"
// is relative to --base-url, or to the embedded fixture server when there is no --base-url
// (the sample says so on stderr); with no URLs at all it downloads the seeds' files: RFCs 791
// to 795 and fourteen images.
//
// Usage: downloader [URL...] [--from FILE] [--out DIR] [--max-concurrent N] [--force]
//                   [--base-url URL] [--timeout-ms N] [--latency-ms N] [--progress MODE]
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/event.hpp>
#include <troupe/http.hpp>
#include <troupe/semaphore.hpp>
#include <troupe/troupe.hpp>

#include <fixture/server.hpp>  // the loopback test server (tests/fixture), not troupe

namespace fs = std::filesystem;
using namespace std::chrono;
using Clock = std::chrono::steady_clock;

namespace {

// -- messages -------------------------------------------------------------------------------

struct Job {
  std::string url;
  fs::path path;
};
struct Outcome {
  std::string url;
  fs::path path;
  std::uint64_t bytes = 0;
  std::string error;  // empty on success
};
struct Started {
  std::string url;
};
struct Finished {
  std::string url;
  std::uint64_t bytes;
  bool ok;
};
struct EndLine {};
struct Count {};

// -- the progress display -------------------------------------------------------------------

// The one actor that writes progress. On a terminal it redraws a single line with '\r'; in
// a pipe or a file it prints one plain line per event, as the seed does.
class Progress : public troupe::Actor {
 public:
  Progress(std::size_t total, bool bar) : total_(total), bar_(bar) {}

  void on(const Started& s) {
    ++active_;
    if (bar_) {
      redraw();
    } else {
      std::printf("Downloading %s...\n", s.url.c_str());
      std::fflush(stdout);
    }
  }

  void on(const Finished& f) {
    if (active_ > 0) --active_;
    ++done_;
    bytes_ += f.bytes;
    if (!f.ok) ++failed_;
    if (bar_) {
      redraw();
    } else {
      if (f.ok) {
        std::printf("Finished downloading %s (%llu bytes)\n", f.url.c_str(),
                    static_cast<unsigned long long>(f.bytes));
      } else {
        std::printf("Failed to download %s\n", f.url.c_str());
      }
      std::fflush(stdout);
    }
  }

  // Ends the redrawn line, so what follows starts on a line of its own. An ask: main waits
  // for it, and so knows every progress message sent before has been shown.
  bool on(EndLine) {
    if (bar_) {
      std::printf("\n");
      std::fflush(stdout);
    }
    return true;
  }

 private:
  void redraw() {
    constexpr int kWidth = 30;
    int filled = total_ == 0 ? kWidth : static_cast<int>(done_ * kWidth / total_);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::printf("\r[%s] %zu/%zu files, %.1f MB, %zu in flight, %zu failed ", bar.c_str(), done_,
                total_, bytes_ / 1e6, active_, failed_);
    std::fflush(stdout);
  }

  std::size_t total_;
  bool bar_;
  std::size_t done_ = 0;
  std::size_t active_ = 0;
  std::size_t failed_ = 0;
  std::uint64_t bytes_ = 0;
};

// -- one download ---------------------------------------------------------------------------

// def download(url): with semaphore: ...
class Downloader : public troupe::Actor {
 public:
  Downloader(troupe::HttpClient http, troupe::Semaphore semaphore, troupe::Ref<Progress> progress,
             milliseconds timeout, bool force)
      : http_(std::move(http)),
        semaphore_(std::move(semaphore)),
        progress_(std::move(progress)),
        timeout_(timeout),
        force_(force) {}

  troupe::Task<Outcome> on(Job job) {
    Outcome outcome;
    outcome.url = job.url;
    outcome.path = job.path;
    // The transfer's future is kept in a variable, not awaited as a temporary, so that this frame
    // still holds the error it may carry while the catch below reads it. (Otherwise
    // ThreadSanitizer, which cannot see libstdc++'s reference count of exceptions, reports
    // the HTTP actor's thread freeing the error as a race with reading it here.)
    troupe::Future<troupe::Download> transfer;
    try {
      if (!force_ && fs::exists(job.path)) {
        throw std::runtime_error(job.path.string() +
                                 " already exists; not overwritten (--force replaces it)");
      }
      // with semaphore: -- waits (without a thread) until one of the permits is free. The
      // permit is held by this object and given back when it goes out of scope, however the
      // block is left: a return, an exception, or this actor being stopped.
      troupe::Permit permit = co_await semaphore_.acquire();
      progress_.tell(Started{job.url});
      transfer = http_.download(job.url, job.path, {.timeout = timeout_, .overwrite = force_});
      troupe::Download done = co_await transfer;
      outcome.bytes = done.bytes;
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
    progress_.tell(Finished{job.url, outcome.bytes, outcome.error.empty()});
    co_return outcome;
  }

 private:
  troupe::HttpClient http_;
  troupe::Semaphore semaphore_;
  troupe::Ref<Progress> progress_;
  milliseconds timeout_;
  bool force_;
};

// -- the word counter -----------------------------------------------------------------------

/// Whitespace-separated words, as Python's len(line.split()) summed over the lines.
std::uint64_t count_words(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::uint64_t words = 0;
  bool in_word = false;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      bool space = std::isspace(static_cast<unsigned char>(buffer[i])) != 0;
      if (!space && !in_word) ++words;
      in_word = !space;
    }
  }
  return words;
}

// def process_file(event): event.wait(); count the words
class WordCounter : public troupe::Actor {
 public:
  WordCounter(troupe::Event downloaded, std::vector<fs::path> files)
      : downloaded_(std::move(downloaded)), files_(std::move(files)) {}

  troupe::Task<void> on(Count) {
    std::printf("Waiting for the files to be downloaded...\n");
    std::fflush(stdout);
    bool set = co_await downloaded_.wait();  // event.wait(): no thread is blocked meanwhile
    (void)set;                               // no timeout was given: always true
    std::printf("Download completed. Start processing...\n");
    std::uint64_t total = 0;
    int counted = 0;
    for (const fs::path& file : files_) {
      if (!fs::exists(file)) {
        std::printf("%s was not downloaded\n", file.filename().c_str());
        continue;
      }
      try {
        std::uint64_t words = count_words(file);
        std::printf("Number of words in %s: %llu\n", file.filename().c_str(),
                    static_cast<unsigned long long>(words));
        total += words;
        ++counted;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "downloader: %s\n", e.what());
      }
    }
    if (counted > 1) {
      std::printf("Number of words in all %d text files: %llu\n", counted,
                  static_cast<unsigned long long>(total));
    }
    std::fflush(stdout);
    stop();  // the seed's process_file returns: this actor's work is done
  }

 private:
  troupe::Event downloaded_;
  std::vector<fs::path> files_;
};

// -- the command line -----------------------------------------------------------------------

/// The file name a URL is saved under: its last path segment.
std::string file_name_of(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  auto scheme = url.find("://");
  if (scheme != std::string::npos && slash != std::string::npos && slash <= scheme + 2)
    name.clear();
  return name;
}

std::vector<std::string> read_url_list(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read the URL list " + file);
  std::vector<std::string> urls;
  for (std::string line; std::getline(in, line);) {
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto last = line.find_last_not_of(" \t\r");
    urls.push_back(line.substr(first, last - first + 1));
  }
  return urls;
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
      "downloader: download files at most N at a time, then count the words of the "
      "text ones"};
  std::vector<std::string> urls;
  std::string from;
  std::string out_dir = "downloads";
  unsigned max_concurrent = 3;
  bool force = false;
  std::string base_url;
  int timeout_ms = 60'000;
  int latency_ms = 0;
  std::string progress_mode = "auto";
  app.add_option("URL", urls, "URLs to download; one starting with / is relative to --base-url");
  app.add_option("--from", from, "read more URLs from FILE, one per line (# starts a comment)");
  app.add_option("--out", out_dir, "the folder to save into (created if missing)")
      ->capture_default_str();
  app.add_option("--max-concurrent", max_concurrent, "downloads at the same time (the semaphore)")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_flag("--force", force, "replace files that already exist");
  app.add_option("--base-url", base_url,
                 "what relative URLs are relative to (default: an "
                 "embedded server)");
  app.add_option("--timeout-ms", timeout_ms, "timeout of each download")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app.add_option("--latency-ms", latency_ms, "make the embedded server wait this long per request")
      ->check(CLI::Range(0, 60'000));
  app.add_option("--progress", progress_mode, "auto (a bar on a terminal), bar, or lines")
      ->check(CLI::IsMember({"auto", "bar", "lines"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  raise_open_file_limit();

  try {
    if (!from.empty()) {
      for (std::string& url : read_url_list(from)) urls.push_back(std::move(url));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "downloader: %s\n", e.what());
    return 2;
  }
  if (urls.empty()) {  // the seeds' downloads
    for (int n = 791; n <= 795; ++n) urls.push_back("/rfc/rfc" + std::to_string(n) + ".txt");
    for (int n = 1; n <= 14; ++n) urls.push_back("/images/" + std::to_string(n) + ".jpg");
  }

  // Relative URLs need a server: --base-url, or the embedded one. Declared before the
  // System, so it outlives every transfer.
  std::unique_ptr<fixture::Server> server;
  bool relative = false;
  for (const std::string& url : urls) relative = relative || url.starts_with("/");
  if (relative && base_url.empty()) {
    try {
      server = std::make_unique<fixture::Server>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "downloader: cannot start the embedded server: %s\n", e.what());
      return 1;
    }
    if (latency_ms > 0) server->set_latency("/", milliseconds(latency_ms));
    base_url = server->base_url();
    std::fprintf(stderr, "downloader: no --base-url given: using the embedded server at %s\n",
                 base_url.c_str());
  } else if (latency_ms > 0) {
    std::fprintf(stderr, "downloader: --latency-ms applies to the embedded server only\n");
    return 2;
  }
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();

  // Decide every destination up front: two URLs must not be saved under one name.
  std::vector<Job> jobs;
  std::map<std::string, std::string> taken;
  for (const std::string& u : urls) {
    std::string url = u.starts_with("/") ? base_url + u : u;
    std::string name = file_name_of(url);
    if (name.empty() || name == "." || name == "..") {
      std::fprintf(stderr, "downloader: %s names no file to save it as\n", url.c_str());
      return 2;
    }
    if (auto [it, fresh] = taken.emplace(name, url); !fresh) {
      std::fprintf(stderr, "downloader: %s and %s would both be saved as %s\n", it->second.c_str(),
                   url.c_str(), name.c_str());
      return 2;
    }
    jobs.push_back(Job{url, fs::path(out_dir) / name});
  }

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    std::fprintf(stderr, "downloader: cannot use %s as the output folder: %s\n", out_dir.c_str(),
                 ec ? ec.message().c_str() : "not a folder");
    return 1;
  }
  if (access(out_dir.c_str(), W_OK) != 0) {
    std::fprintf(stderr, "downloader: cannot write into %s: %s\n", out_dir.c_str(),
                 std::strerror(errno));
    return 1;
  }

  const bool bar = progress_mode == "bar" || (progress_mode == "auto" && isatty(STDOUT_FILENO));
  auto t0 = Clock::now();

  troupe::System system;
  // The HTTP actor caps transfers itself (16 by default); here the Semaphore is the limit
  // the seed shows, so the client's cap is set to the same number and never lower.
  troupe::HttpClient http(system, {.max_concurrent = max_concurrent});
  troupe::Semaphore semaphore(system, max_concurrent, {.name = "downloads"});  // Semaphore(3)
  troupe::Event downloaded(system, "downloaded");                              // Event()

  // The word counter starts now and waits for the event, as the seed's process_thread.
  std::vector<fs::path> texts;
  for (const Job& job : jobs) {
    if (job.path.extension() == ".txt") texts.push_back(job.path);
  }
  troupe::Ref<WordCounter> counter;
  if (!texts.empty()) {
    counter = system.spawn<WordCounter>("word-counter", downloaded, texts);
    counter.tell(Count{});
  }

  // A Downloader per URL, like a Thread per URL; each answers its ask with an Outcome.
  auto progress = system.spawn<Progress>("progress", jobs.size(), bar);
  std::vector<troupe::Ref<Downloader>> downloaders;
  std::vector<troupe::Future<Outcome>> pending;
  for (const Job& job : jobs) {
    downloaders.push_back(system.spawn<Downloader>(troupe::SpawnOptions{}, http, semaphore,
                                                   progress, milliseconds(timeout_ms), force));
    pending.push_back(downloaders.back().ask(job));
  }
  std::vector<Outcome> outcomes = troupe::when_all(std::move(pending)).get(hours(24));
  progress.ask(EndLine{}).get(seconds(30));
  double seconds_taken = duration<double>(Clock::now() - t0).count();

  // The summary, and every failure on stderr.
  std::uint64_t bytes = 0;
  int failures = 0;
  for (const Outcome& o : outcomes) {
    if (o.error.empty()) {
      bytes += o.bytes;
    } else {
      ++failures;
      std::fprintf(stderr, "downloader: %s\n", o.error.c_str());
    }
  }
  std::printf("%zu file(s), %llu bytes, %.3f s, %d failure(s)\n",
              outcomes.size() - static_cast<std::size_t>(failures),
              static_cast<unsigned long long>(bytes), seconds_taken, failures);
  if (server) {
    std::printf("the embedded server saw at most %zu request(s) at a time (--max-concurrent %u)\n",
                server->max_in_flight(), max_concurrent);
  }
  std::fflush(stdout);

  downloaded.set();  // event.set(): the word counter goes ahead
  for (auto& d : downloaders) d.stop();
  progress.stop();
  system.join();  // the word counter is the last non-daemon actor: wait for its count
  return failures == 0 ? 0 : 1;
}
