// multiprocess - the tutorials' "Multiprocessing": CPU-bound work spread over processes.
//
// Python's threads share one interpreter lock, so CPU-bound work needs processes:
//
//     with multiprocessing.Pool(4) as pool:             # Python
//         total = sum(pool.map(count_primes, chunks))
//
// troupe's actors already spread work over cores inside one process; this sample spreads it
// over several processes (and it would over hosts: only the NATS url changes). Each worker
// process runs a Node and publishes a PrimeCounter actor under a name; the coordinator looks
// the workers up by name and asks them for chunks of the range, exactly as it would ask a
// local actor: `worker.ask(CountPrimes{lo, hi})` returns a Future<long>.
//
// The two sides share only the protocol below (the messages and what each answers): the
// coordinator never needs the worker's class.
//
// Usage: multiprocess [--workers N] [--limit N] [--nats URL]
//   Without --nats it starts its own nats-server on a free loopback port and stops it at the
//   end, so it runs with nothing set up beforehand. With --nats it joins that server, and
//   `multiprocess worker --nats URL --id K` runs one worker (start them on any host).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <troupe/remote.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

// -- the protocol: what both sides include ---------------------------------------------------

/// Count the primes in [lo, hi).
struct CountPrimes {
  long lo = 0;
  long hi = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(lo, hi);
  }
};
/// Leave: the worker process exits.
struct Quit {
  template <class Archive>
  void serialize(Archive&) {}
};
// Each message gets a stable name on the wire, once.
TROUPE_REMOTE_MESSAGE(CountPrimes, "multiprocess.count_primes.v1");
TROUPE_REMOTE_MESSAGE(Quit, "multiprocess.quit.v1");

using WorkerProtocol = troupe::Protocol<troupe::Accepts<CountPrimes, long>,  // answers a count
                                        troupe::Accepts<Quit>>;

// -- the worker: only worker processes need this ---------------------------------------------

namespace {

bool is_prime(long n) {
  if (n < 2) return false;
  for (long d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

class PrimeCounter : public troupe::Actor {
 public:
  explicit PrimeCounter(std::promise<void>* quit) : quit_(quit) {}
  long on(const CountPrimes& c) {
    long count = 0;
    for (long n = c.lo; n < c.hi; ++n) count += is_prime(n) ? 1 : 0;
    return count;
  }
  void on(const Quit&) {
    if (quit_ != nullptr) quit_->set_value();
    quit_ = nullptr;
  }

 private:
  std::promise<void>* quit_;
};
// What publish checks at compile time: the actor speaks the protocol.
static_assert(troupe::Implements<PrimeCounter, WorkerProtocol>);

int run_worker(const std::string& url, int id) {
  troupe::System system;
  troupe::Node node(
      system, {.urls = {url}, .cluster = "multiprocess", .name = "worker-" + std::to_string(id)});
  std::promise<void> quit;
  auto counter = system.spawn<PrimeCounter>(&quit);
  node.publish<WorkerProtocol>(counter, "primes-" + std::to_string(id));
  quit.get_future().wait();  // until the coordinator says Quit
  return 0;
}

// -- a nats-server of our own, for a run with nothing set up ---------------------------------

struct OwnServer {
  pid_t pid = -1;
  std::string dir;
  std::string url;

  OwnServer() {
    char tmpl[] = "/tmp/troupe-multiprocess-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      std::string log = dir + "/server.log";
      execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir",
             dir.c_str(), "--log", log.c_str(), nullptr);
      _exit(127);
    }
    // The server writes its port to a file once it listens.
    for (int i = 0; i < 1000 && url.empty(); ++i) {
      for (auto& f : std::filesystem::directory_iterator(dir)) {
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
  ~OwnServer() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(dir);
  }
};

pid_t spawn_worker(const std::string& url, int id) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the coordinator
    std::string ids = std::to_string(id);
    execl("/proc/self/exe", "multiprocess", "worker", "--nats", url.c_str(), "--id", ids.c_str(),
          nullptr);
    _exit(127);
  }
  return pid;
}

// -- the coordinator -----------------------------------------------------------------------------

int run_coordinator(const std::string& url, int workers, long limit, bool spawn) {
  std::vector<pid_t> children;
  if (spawn) {
    for (int k = 0; k < workers; ++k) children.push_back(spawn_worker(url, k));
  }
  troupe::System system;
  troupe::Node node(system, {.urls = {url}, .cluster = "multiprocess", .name = "coordinator"});

  // Find each worker by name (they may still be starting: retry for a while).
  std::vector<troupe::RemoteRef<WorkerProtocol>> pool;
  for (int k = 0; k < workers; ++k) {
    for (int attempt = 0;; ++attempt) {
      try {
        pool.push_back(node.lookup<WorkerProtocol>("primes-" + std::to_string(k)).get(5s));
        break;
      } catch (const troupe::NoSuchActor&) {
        if (attempt == 100) throw;
        std::this_thread::sleep_for(50ms);
      }
    }
  }

  // Split the range into chunks and ask the workers round-robin; every ask is a future.
  auto start = std::chrono::steady_clock::now();
  const long chunks = workers * 8L;
  std::vector<troupe::Future<long>> parts;
  for (long c = 0; c < chunks; ++c) {
    long lo = limit * c / chunks, hi = limit * (c + 1) / chunks;
    parts.push_back(pool[static_cast<std::size_t>(c % workers)].ask(CountPrimes{lo, hi}, 60s));
  }
  long total = 0;
  for (auto& f : parts) total += f.get(70s);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start);

  std::printf("primes below %ld: %ld (%ld chunks over %d worker processes, %lld ms)\n", limit,
              total, chunks, workers, static_cast<long long>(ms.count()));

  for (auto& w : pool) w.tell(Quit{});  // the workers leave
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "multiprocess: a worker process failed\n");
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU-bound work spread over worker processes, over NATS"};
  int workers = 3;
  long limit = 2'000'000;
  std::string url;
  int id = 0;
  app.add_option("--workers", workers, "worker processes")->check(CLI::Range(1, 64));
  app.add_option("--limit", limit, "count the primes below this")
      ->check(CLI::Range(2L, 1'000'000'000L));
  app.add_option("--nats", url, "a NATS server to join (default: start one on loopback)");
  auto* worker = app.add_subcommand("worker", "run one worker process");
  worker->add_option("--nats", url, "the NATS server")->required();
  worker->add_option("--id", id, "this worker's number")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    if (*worker) return run_worker(url, id);
    if (!url.empty()) return run_coordinator(url, workers, limit, false);
    OwnServer server;
    std::printf("started nats-server at %s\n", server.url.c_str());
    return run_coordinator(server.url, workers, limit, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "multiprocess: %s\n", e.what());
    return 1;
  }
}
