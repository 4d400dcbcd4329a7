// bench/cluster_queue_bench.cpp - ClusterQueue<T> beside its floor, raw cnats JetStream.
//
//   troupe-cluster-queue-bench [--items N] [--reps R] [--memory] [--skip-floor]
//
// Starts its own nats-server -js on a free loopback port (store in a temp dir), then, for
// 1 and 4 workers, R times each, alternating:
//   raw cnats   a work-queue stream and a durable pull consumer; one connection publishes N
//               messages with js_PublishAsync (then js_PublishAsyncComplete) while each
//               worker (a thread with a connection of its own) fetches batches of 64 and
//               acks every message; timed until the stream is empty again. Twice: without
//               message ids (the floor), and with one per message (what put pays for
//               duplicate suppression, on the server).
//   troupe      ClusterQueue<std::int64_t>: one queue object puts N items (each with a
//               message id: duplicate suppression is part of put) and waits for their
//               futures, while each worker (a thread with a ClusterQueue of its own, so a
//               connection of its own, prefetch 64) loops get -> done; timed until join().
// Each measurement runs in a child process of its own. Prints items/s (median of R),
// troupe's share of each floor, and the client's CPU time per item (the measuring
// process's user + system time, all its threads; nats-server's is not in it), which a
// loaded host disturbs less than the rate. Items are 8-byte integers; file storage unless
// --memory.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include <troupe/remote/cluster_queue.hpp>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Server {
  pid_t pid = -1;
  std::string dir, url;
  Server() {
    char tmpl[] = "/tmp/troupe-cq-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      std::string store = dir + "/store", log = dir + "/server.log";
      execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", "-1", "-js", "-sd",
             store.c_str(), "--ports_file_dir", dir.c_str(), "--log", log.c_str(), nullptr);
      _exit(127);
    }
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
    if (url.empty()) throw std::runtime_error("nats-server did not start");
  }
  ~Server() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(dir);
  }
};

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) {
    throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
  }
}

natsConnection* connect(const std::string& url) {
  natsConnection* nc = nullptr;
  check(natsConnection_ConnectTo(&nc, url.c_str()), "connect");
  return nc;
}

/// Raw cnats: items/s through publish + fetch + ack with `workers` pulling threads.
double raw_floor(const std::string& url, int items, int workers, bool memory, int run,
                 bool with_ids) {
  std::string stream = "FLOOR" + std::to_string(run), subject = "floor." + std::to_string(run);
  natsConnection* nc = connect(url);
  jsCtx* js = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 4096;  // as ClusterQueue's max_pending_puts
  jo.PublishAsync.StallWait = 60000;
  check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = stream.c_str();
  const char* subjects[] = {subject.c_str()};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Retention = js_WorkQueuePolicy;
  sc.Storage = memory ? js_MemoryStorage : js_FileStorage;
  check(js_AddStream(nullptr, js, &sc, nullptr, nullptr), "add stream");
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "workers";
  cc.AckPolicy = js_AckExplicit;
  cc.MaxAckPending = 20000;
  check(js_AddConsumer(nullptr, js, stream.c_str(), &cc, nullptr, nullptr), "add consumer");

  std::atomic<int> acked{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      natsConnection* c = connect(url);
      jsCtx* wjs = nullptr;
      check(natsConnection_JetStream(&wjs, c, nullptr), "jetstream");
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = stream.c_str();
      so.Consumer = "workers";
      natsSubscription* sub = nullptr;
      check(js_PullSubscribe(&sub, wjs, subject.c_str(), "workers", nullptr, &so, nullptr), "pull");
      go.wait(false);  // asleep, not spinning: the CPU time counts the work only
      while (acked.load() < items) {
        // One at a time while messages are queued on the subscription, as ClusterQueue's
        // fetch_batch (remote/src/cluster_queue.cpp) does: cnats 3.4.1 overruns its batch array
        // when more than half a batch was queued before the fetch.
        int queued = 0;
        natsSubscription_GetPending(sub, &queued, nullptr);
        natsMsgList list{nullptr, 0};
        if (natsSubscription_Fetch(&list, sub, queued > 0 ? 1 : 64, 100, nullptr) == NATS_OK) {
          for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
          acked += list.Count;
        }
        natsMsgList_Destroy(&list);
      }
      natsConnection_Flush(c);
      natsSubscription_Destroy(sub);
      jsCtx_Destroy(wjs);
      natsConnection_Destroy(c);
    });
  }
  std::this_thread::sleep_for(200ms);  // the workers are subscribed
  auto start = Clock::now();
  go = true;
  go.notify_all();
  for (std::int64_t i = 0; i < items; ++i) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    std::string id = with_ids ? "m-" + std::to_string(run) + "-" + std::to_string(i) : "";
    if (with_ids) po.MsgId = id.c_str();
    check(js_PublishAsync(js, subject.c_str(), &i, sizeof i, &po), "publish");
  }
  check(js_PublishAsyncComplete(js, nullptr), "publish complete");
  for (auto& t : pool) t.join();
  for (;;) {  // until the server has processed every ack (as join() waits)
    jsStreamInfo* si = nullptr;
    check(js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr), "stream info");
    bool empty = si->State.Msgs == 0;
    jsStreamInfo_Destroy(si);
    if (empty) break;
    std::this_thread::sleep_for(1ms);
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  js_DeleteStream(js, stream.c_str(), nullptr, nullptr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return items / secs;
}

/// ClusterQueue: items/s through put + get + done with `workers` threads, until join().
double troupe_queue(const std::string& url, int items, int workers, bool memory, int run) {
  troupe::ClusterQueueOptions o{.urls = {url},
                                .name = "bench" + std::to_string(run),
                                .file_storage = !memory,
                                .prefetch = 64};
  troupe::ClusterQueue<std::int64_t> producer(o);
  std::atomic<int> done{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      troupe::ClusterQueue<std::int64_t> q(o);  // a connection of its own, as a process has
      go.wait(false);  // asleep, not spinning: the CPU time counts the work only
      while (done.load() < items) {
        try {
          auto lease = q.get(100ms).get(5s);
          lease.done();
          ++done;
        } catch (const troupe::TimeoutError&) {
        }
      }
    });
  }
  std::this_thread::sleep_for(200ms);
  auto start = Clock::now();
  go = true;
  go.notify_all();
  std::vector<troupe::Future<void>> puts;
  puts.reserve(static_cast<std::size_t>(items));
  for (std::int64_t i = 0; i < items; ++i) puts.push_back(producer.put(i));
  for (auto& f : puts) f.get(60s);
  producer.join().get(120s);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : pool) t.join();
  return items / secs;
}

/// What one measurement gave: items per second, and the CPU time its process used (user +
/// system, all its threads: the client's side, not nats-server's), which a loaded host
/// disturbs far less than the rate.
struct Measured {
  double rate = 0;
  double cpu_seconds = 0;
};

/// Runs one measurement in a child process of its own (a fresh heap and fresh cnats state
/// for each, nothing carried from one to the next) and returns its items/s and CPU time.
template <class F>
Measured in_child(const char* what, F measure) {
  int p[2];
  if (pipe(p) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    double v = -1;
    try {
      v = measure();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "troupe-cluster-queue-bench: %s\n", e.what());
    }
    ssize_t n = write(p[1], &v, sizeof v);
    _exit(n == sizeof v && v > 0 ? 0 : 1);
  }
  close(p[1]);
  double v = -1;
  ssize_t n = read(p[0], &v, sizeof v);
  close(p[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  if (n != sizeof v || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(std::string("the measurement '") + what +
                             "' failed (its process exited with status " + std::to_string(status) +
                             ")");
  }
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {v, seconds(usage.ru_utime) + seconds(usage.ru_stime)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int items = 100'000, reps = 3;
  bool memory = false, skip_floor = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--items" && i + 1 < argc) {
      items = std::atoi(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--memory") {
      memory = true;
    } else if (a == "--skip-floor") {  // ClusterQueue only
      skip_floor = true;
    } else {
      std::fprintf(
          stderr,
          "usage: troupe-cluster-queue-bench [--items N] [--reps R] [--memory] [--skip-floor]\n");
      return 2;
    }
  }
  if (items < 1 || reps < 1) {
    std::fprintf(stderr, "troupe-cluster-queue-bench: --items and --reps must be positive\n");
    return 2;
  }
  try {
    Server server;
    std::printf("nats-server -js at %s, %s storage, %d items, %d rep(s), median items/s\n",
                server.url.c_str(), memory ? "memory" : "file", items, reps);
    std::printf("%-8s %12s %14s %14s %8s %10s   %s\n", "workers", "raw cnats", "raw with ids",
                "ClusterQueue", "share", "share/ids",
                "client CPU us/item: raw, with ids, ClusterQueue");
    int run = 0;
    for (int workers : {1, 4}) {
      std::vector<double> raw, ids, ours, raw_cpu, ids_cpu, our_cpu;
      auto keep = [&](std::vector<double>& rate, std::vector<double>& cpu, Measured m) {
        rate.push_back(m.rate);
        cpu.push_back(m.cpu_seconds * 1e6 / items);
      };
      for (int r = 0; r < reps; ++r) {  // alternate, so drift hits all alike
        int a = run++, b = run++, c = run++;
        const std::string& url = server.url;
        if (!skip_floor) {
          keep(raw, raw_cpu, in_child("raw cnats", [&] {
                 return raw_floor(url, items, workers, memory, a, false);
               }));
          keep(ids, ids_cpu, in_child("raw with ids", [&] {
                 return raw_floor(url, items, workers, memory, b, true);
               }));
        }
        keep(ours, our_cpu, in_child("ClusterQueue", [&] {
               return troupe_queue(url, items, workers, memory, c);
             }));
      }
      double t = median(ours);
      if (skip_floor) {
        std::printf("%-8d %12s %14s %14.0f %8s %10s   - - %.1f\n", workers, "-", "-", t, "-", "-",
                    median(our_cpu));
      } else {
        double f = median(raw), fi = median(ids);
        std::printf("%-8d %12.0f %14.0f %14.0f %7.0f%% %9.0f%%   %.1f %.1f %.1f\n", workers, f, fi,
                    t, 100.0 * t / f, 100.0 * t / fi, median(raw_cpu), median(ids_cpu),
                    median(our_cpu));
      }
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "troupe-cluster-queue-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
