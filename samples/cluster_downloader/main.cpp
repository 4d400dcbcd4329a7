// cluster_downloader - the downloader run as a cluster: a coordinator puts the URLs in a
// ClusterQueue, worker processes (on this host or others) take leases and download, and the
// coordinator waits on join() and prints the table (seed 004, "Image Downloading", with the
// queue and six threads of the seed spread over processes).
//
// The seed drains a queue.Queue with threads:
//
//     def worker():
//         while True:
//             url = q.get()
//             download(url)
//             q.task_done()
//     for _ in range(6): Thread(target=worker, daemon=True).start()
//     for url in urls: q.put(url)
//     q.join()
//
// Here the queue is a troupe::ClusterQueue<Job> on NATS JetStream, shared by every process
// that opens it by name; each worker process runs --concurrency Fetcher actors, each a loop
// that `co_await`s a lease, downloads with troupe's HTTP client and settles the lease.
//
// What makes it safe to run a job twice (delivery is at least once: a worker that dies
// holding a lease has its job delivered again, to another worker, after --ack-wait-ms):
//   - the HTTP client writes to a temporary file and renames it into place when complete,
//     so a file under its final name is always whole, and a killed transfer leaves nothing;
//   - a job whose file is already there is done without downloading again (never written
//     twice), and a redelivered job first removes the temporary file a killed worker left;
//   - the report a worker puts for a URL carries the URL as its message id, so a second
//     report of the same URL is suppressed by JetStream.
// A URL that keeps failing is retried --max-deliver times (in any worker), then lands in the
// queue's dead letters with its last error; the coordinator names it and exits non-zero.
//
// Usage: cluster_downloader [URL...] [--from FILE] [--out DIR] [--workers N]
//                           [--concurrency N] [--nats URL] [--base-url URL] [--latency-ms N]
//                           [--fail PATH] [--kill-worker-after N] [--ack-wait-ms N]
//        cluster_downloader worker --nats URL --queue NAME --out DIR [--concurrency N]
//   Without --nats it starts nats-server -js on a free loopback port (store in a temp dir)
//   and stops it at the end; without --base-url it serves the files itself (the embedded
//   fixture server); so it runs with nothing set up beforehand. A URL starting with "/" is
//   relative to the base URL; with no URLs it downloads /images/1.jpg to /images/24.jpg.
//   With --workers 0 it starts no worker and prints the command that starts one elsewhere.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fixture/server.hpp>  // the loopback test server (tests/fixture), not troupe

#include <troupe/http.hpp>
#include <troupe/remote/cluster_queue.hpp>
#include <troupe/troupe.hpp>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// -- what travels through the queues (both sides include this) -------------------------------

/// One file to download: from `url` to `file` (a name in the worker's --out folder).
struct Job {
  std::string url;
  std::string file;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(url, file);
  }
};

/// What a worker did with a job it finished.
struct Report {
  std::string url;
  std::string file;
  std::uint64_t bytes = 0;
  int worker = 0;
  bool kept = false;  // the file was already there (a job run again): not downloaded twice
  template <class Archive>
  void serialize(Archive& ar) {
    ar(url, file, bytes, worker, kept);
  }
};

struct Start {};

/// Removes `<file>.part-*` in `dir`: what a transfer of that file leaves when its process is
/// killed (the HTTP client's temporary name). Called for a redelivered job only, whose
/// earlier holder is presumed gone (it kept the lease past ack_wait).
void remove_leftovers(const fs::path& dir, const std::string& file) {
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(file + ".part-", 0) == 0)
      fs::remove(entry.path(), ec);
  }
}

// -- the worker side --------------------------------------------------------------------------

/// One of a worker process's --concurrency download loops (the seed's worker threads).
class Fetcher : public troupe::Actor {
 public:
  Fetcher(troupe::ClusterQueue<Job> jobs, troupe::ClusterQueue<Report> reports,
          troupe::HttpClient http, fs::path out, int worker)
      : jobs_(std::move(jobs)),
        reports_(std::move(reports)),
        http_(std::move(http)),
        out_(std::move(out)),
        worker_(worker) {}

  troupe::Task<void> on(Start) {
    for (;;) {
      troupe::Lease<Job> lease = co_await jobs_.get();  // waits without holding a thread
      fs::path path = out_ / lease->file;
      Report report{lease->url, lease->file, 0, worker_, false};
      // Kept in a variable, not awaited as a temporary: the frame holds the error it may
      // carry while the catch below reads it.
      troupe::Future<troupe::Download> transfer;
      std::string error;
      try {
        if (lease.deliveries() > 1) remove_leftovers(out_, lease->file);
        if (fs::exists(path)) {  // done before (a redelivered job): whole, by the rename
          report.kept = true;
          report.bytes = fs::file_size(path);
        } else {
          transfer = http_.download(lease->url, path);
          troupe::Download d = co_await transfer;
          report.bytes = d.bytes;
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) {
        // Given back: delivered again (any worker) or, after --max-deliver tries, a dead
        // letter carrying this error.
        lease.retry(error, 200ms);
        continue;
      }
      troupe::Future<void> reported = reports_.put(report, {.id = "report " + report.url});
      co_await reported;
      lease.done();  // only now: a worker killed before this line leaves the job to others
    }
  }

 private:
  troupe::ClusterQueue<Job> jobs_;
  troupe::ClusterQueue<Report> reports_;
  troupe::HttpClient http_;
  fs::path out_;
  int worker_;
};

troupe::ClusterQueueOptions queue_options(const std::string& url, const std::string& name,
                                          int ack_wait_ms) {
  return {.urls = {url},
          .name = name,
          .ack_wait = std::chrono::milliseconds(ack_wait_ms),
          .max_deliver = 3,
          .file_storage = false};
}

int run_worker(const std::string& url, const std::string& queue, const fs::path& out,
               int concurrency, int id, int ack_wait_ms) {
  // SIGTERM and SIGINT end the process cleanly: wait for them here, on the main thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before any thread starts: all inherit it

  fs::create_directories(out);
  troupe::System system;
  troupe::ClusterQueue<Job> jobs(queue_options(url, queue, ack_wait_ms));
  troupe::ClusterQueue<Report> reports(queue_options(url, queue + "-reports", ack_wait_ms));
  // Watched live (TROUPE_OBSERVE), the page shows both queues beside this worker's actors.
  jobs.observe(system);
  reports.observe(system);
  troupe::HttpClient http(system, {.max_concurrent = static_cast<std::size_t>(concurrency)});
  for (int i = 0; i < concurrency; ++i) {
    system.spawn<Fetcher>(jobs, reports, http, out, id).tell(Start{});
  }
  std::printf("worker %d ready\n", id);  // the coordinator waits for this line
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  system.shutdown(2s);  // a lease held now is given back, for another worker
  return 0;
}

// -- what the coordinator starts when nothing is set up ---------------------------------------

/// nats-server with JetStream on a free loopback port, its store in a temp dir.
struct OwnNats {
  pid_t pid = -1;
  std::string dir;
  std::string url;

  OwnNats() {
    char tmpl[] = "/tmp/troupe-cluster-downloader-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      std::string store = dir + "/store", log = dir + "/server.log";
      execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", "-1", "-js", "-sd",
             store.c_str(), "--ports_file_dir", dir.c_str(), "--log", log.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 1000 && url.empty(); ++i) {  // it writes its port once it listens
      for (auto& f : fs::directory_iterator(dir)) {
        if (f.path().extension() != ".ports") continue;
        std::stringstream text;
        text << std::ifstream(f.path()).rdbuf();
        auto s = text.str();
        auto at = s.find("nats://");
        auto end = s.find('"', at);
        if (at != std::string::npos && end != std::string::npos) url = s.substr(at, end - at);
      }
      std::this_thread::sleep_for(10ms);
    }
    if (url.empty())
      throw std::runtime_error("nats-server did not start (apt-get install nats-server)");
  }
  ~OwnNats() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
  }
};

/// A worker process, started from this very executable; its stdout comes back on a pipe.
struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child spawn_worker(const std::string& url, const std::string& queue, const fs::path& dir,
                   int concurrency, int id, int ack_wait_ms) {
  int p[2];
  // Close-on-exec: a later worker must not inherit this one's pipe (dup2 below clears the
  // flag on the copy this worker's stdout becomes).
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the coordinator
    // Watched (TROUPE_OBSERVE=host:port): each worker serves on a free port of its own and
    // prints it; the coordinator keeps the port asked for.
    if (const char* spec = std::getenv("TROUPE_OBSERVE")) {
      std::string host(spec);
      host = host.substr(0, host.rfind(':') == std::string::npos ? 0 : host.rfind(':'));
      setenv("TROUPE_OBSERVE", (host + ":0").c_str(), 1);
    }
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    std::string c = std::to_string(concurrency), i = std::to_string(id),
                a = std::to_string(ack_wait_ms);
    execl("/proc/self/exe", "cluster_downloader", "worker", "--nats", url.c_str(), "--queue",
          queue.c_str(), "--out", dir.c_str(), "--concurrency", c.c_str(), "--id", i.c_str(),
          "--ack-wait-ms", a.c_str(), nullptr);
    _exit(127);
  }
  close(p[1]);
  return {pid, p[0]};
}

/// Reads one line from `fd` ("" at EOF).
std::string read_line(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// -- the coordinator --------------------------------------------------------------------------

struct Settings {
  std::vector<std::string> urls;
  fs::path out = "downloads";
  int workers = 3;
  int concurrency = 4;
  int kill_after = 0;
  int ack_wait_ms = 3000;
};

int run_coordinator(const std::string& nats, Settings s, bool spawn) {
  // The jobs, each saved under the last part of its URL; two URLs with one name are refused
  // before anything starts (one would overwrite the other).
  std::vector<Job> jobs_list;
  std::map<std::string, std::string> by_file;
  for (auto& url : s.urls) {
    std::string file = url.substr(url.find_last_of('/') + 1);
    if (file.empty() || file == "." || file == "..") {
      throw std::invalid_argument("no file name in the URL " + url);
    }
    if (auto [it, fresh] = by_file.emplace(file, url); !fresh) {
      throw std::invalid_argument(it->second + " and " + url + " would both be saved as " + file);
    }
    jobs_list.push_back(Job{url, file});
  }
  std::error_code ec;
  fs::create_directories(s.out, ec);
  if (ec || !fs::is_directory(s.out)) {
    throw std::invalid_argument("cannot use " + s.out.string() + " as the output folder" +
                                (ec ? ": " + ec.message() : ""));
  }

  // A System for nothing but being watched: with TROUPE_OBSERVE set, its page shows the
  // queues (depth, leases, redeliveries, dead letters, done) while the workers drain them.
  troupe::System system;

  // A queue of this run's own: a rerun against the same NATS never sees old jobs.
  std::string queue =
      "downloads-" + std::to_string(getpid()) + "-" +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000);
  troupe::ClusterQueue<Job> jobs(queue_options(nats, queue, s.ack_wait_ms));
  // The reports: read here one after another, so fetched 64 at a time (prefetch is this
  // process's own setting; the workers that put reports need not share it).
  auto report_options = queue_options(nats, queue + "-reports", s.ack_wait_ms);
  report_options.prefetch = 64;
  troupe::ClusterQueue<Report> reports(report_options);
  jobs.observe(system);
  reports.observe(system);

  std::vector<Child> children;
  if (spawn) {
    for (int k = 0; k < s.workers; ++k) {
      children.push_back(spawn_worker(nats, queue, s.out, s.concurrency, k, s.ack_wait_ms));
    }
    for (auto& c : children) {
      if (read_line(c.out).find("ready") == std::string::npos) {
        throw std::runtime_error("a worker process did not start (see its error above)");
      }
    }
    std::printf("%d worker process(es) ready, %d download(s) at a time each\n", s.workers,
                s.concurrency);
  } else {
    std::printf(
        "queue %s: start workers with\n  cluster_downloader worker --nats %s --queue %s --out "
        "DIR\n",
        queue.c_str(), nats.c_str(), queue.c_str());
  }
  std::fflush(stdout);

  // q.put(url) for each; the URL is the message id (a coordinator that restarts and puts
  // again does not queue a URL twice).
  auto start = std::chrono::steady_clock::now();
  std::vector<troupe::Future<void>> puts;
  for (auto& j : jobs_list) puts.push_back(jobs.put(j, {.id = j.url}));
  for (auto& p : puts) p.get(60s);

  // q.join(), while reading the workers' reports as they come.
  auto joined = jobs.join();
  std::map<std::string, Report> done;
  std::vector<troupe::DeadLetter<Job>> failed;
  bool killed = false;
  auto stop_reading = std::chrono::steady_clock::time_point::max();
  while (done.size() + failed.size() < jobs_list.size() &&
         std::chrono::steady_clock::now() < stop_reading) {
    try {
      auto lease = reports.get(100ms).get(10s);
      done[lease->url] = *lease;
      lease.done();
    } catch (const troupe::TimeoutError&) {
    }
    if (s.kill_after > 0 && !killed && static_cast<int>(done.size()) >= s.kill_after &&
        !children.empty()) {
      kill(children[0].pid, SIGKILL);  // a worker dies holding leases
      killed = true;
      std::printf("killed worker 0 (pid %d) after %zu file(s)\n", children[0].pid, done.size());
      std::fflush(stdout);
    }
    if (joined.ready() && stop_reading == std::chrono::steady_clock::time_point::max()) {
      joined.get();
      failed = jobs.dead_letters().get(10s);
      stop_reading = std::chrono::steady_clock::now() + 10s;  // reports still on their way
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // The workers leave.
  for (auto& c : children) {
    kill(c.pid, SIGTERM);
    int status = 0;
    waitpid(c.pid, &status, 0);
    close(c.out);
  }

  // The table.
  std::uint64_t bytes = 0;
  int kept = 0;
  for (auto& j : jobs_list) {
    auto it = done.find(j.url);
    if (it == done.end()) continue;
    const Report& r = it->second;
    bytes += r.bytes;
    kept += r.kept ? 1 : 0;
    std::printf("%-16s %9llu bytes  worker %d%s\n", r.file.c_str(),
                static_cast<unsigned long long>(r.bytes), r.worker,
                r.kept ? "  (already there)" : "");
  }
  for (auto& f : failed) {
    std::fprintf(stderr, "cluster_downloader: %s: failed %llu times, last: %s\n",
                 f.item.url.c_str(), static_cast<unsigned long long>(f.deliveries),
                 f.error.c_str());
  }
  std::size_t missing = jobs_list.size() - done.size() - failed.size();
  if (missing > 0) std::fprintf(stderr, "cluster_downloader: %zu job(s) never reported\n", missing);
  std::printf("%zu file(s), %llu bytes, %.2f s, %zu failure(s), %d already there\n", done.size(),
              static_cast<unsigned long long>(bytes), secs, failed.size() + missing, kept);
  return failed.empty() && missing == 0 ? 0 : 1;
}

std::vector<std::string> read_urls(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("cannot read " + file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    auto e = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The downloader as a cluster: a coordinator, worker processes, a ClusterQueue"};
  Settings s;
  std::string nats, base, from, fail_path, queue;
  int latency_ms = 0, id = 0;
  app.add_option("urls", s.urls, "URLs to download (\"/path\": relative to the base URL)");
  app.add_option("--from", from, "read URLs from this file, one per line");
  app.add_option("--out", s.out, "the folder to save into");
  app.add_option("--workers", s.workers,
                 "worker processes to start here (0: none, they run elsewhere: see `worker`)")
      ->check(CLI::Range(0, 64));
  app.add_option("--concurrency", s.concurrency, "downloads at a time in each worker")
      ->check(CLI::Range(1, 256));
  app.add_option("--nats", nats, "a NATS server with JetStream (default: start one on loopback)");
  app.add_option("--base-url", base,
                 "what \"/path\" URLs are relative to (default: serve them here)");
  app.add_option("--latency-ms", latency_ms, "the embedded server waits this long per file")
      ->check(CLI::Range(0, 60000));
  app.add_option("--fail", fail_path, "the embedded server answers 500 for this path, always");
  app.add_option("--kill-worker-after", s.kill_after, "SIGKILL worker 0 after this many files")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--ack-wait-ms", s.ack_wait_ms,
                 "a job held this long by a silent worker is redelivered")
      ->check(CLI::Range(100, 3600000));
  auto* worker = app.add_subcommand("worker", "run one worker process (on any host)");
  worker->add_option("--nats", nats, "the NATS server")->required();
  worker->add_option("--queue", queue, "the queue name the coordinator printed")->required();
  worker->add_option("--out", s.out, "the folder to save into")->required();
  worker->add_option("--concurrency", s.concurrency, "downloads at a time")
      ->check(CLI::Range(1, 256));
  worker->add_option("--id", id, "this worker's number (in the table)");
  worker->add_option("--ack-wait-ms", s.ack_wait_ms, "as the coordinator's")
      ->check(CLI::Range(100, 3600000));
  CLI11_PARSE(app, argc, argv);

  try {
    if (*worker) return run_worker(nats, queue, s.out, s.concurrency, id, s.ack_wait_ms);
    if (!from.empty()) {
      auto more = read_urls(from);
      s.urls.insert(s.urls.end(), more.begin(), more.end());
    }
    bool relative = s.urls.empty();
    for (auto& u : s.urls) relative = relative || u.rfind('/', 0) == 0;
    std::unique_ptr<fixture::Server> server;
    if (relative && base.empty()) {
      server = std::make_unique<fixture::Server>();
      base = server->base_url();
      std::fprintf(stderr, "cluster_downloader: no --base-url given: serving the files at %s\n",
                   base.c_str());
      if (latency_ms > 0) server->set_latency("/", std::chrono::milliseconds(latency_ms));
      if (!fail_path.empty()) server->set_failure(fail_path, 500);
    }
    if (s.urls.empty()) {
      for (int n = 1; n <= 24; ++n) s.urls.push_back("/images/" + std::to_string(n) + ".jpg");
    }
    for (auto& u : s.urls) {
      if (u.rfind('/', 0) == 0) u = base + u;
    }
    std::unique_ptr<OwnNats> own;
    if (nats.empty()) {
      own = std::make_unique<OwnNats>();
      nats = own->url;
      std::printf("started nats-server -js at %s\n", nats.c_str());
    }
    return run_coordinator(nats, s, s.workers > 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_downloader: %s\n", e.what());
    return 1;
  }
}
