// tests/cluster/cluster_queue.test.cpp - ClusterQueue<T> against a real nats-server -js
// started by each test (free loopback port, store in a temp dir), with worker processes
// (queue_main) where the test is about several processes. meson runs each case as a test
// of its own, by name, each bounded by a timeout.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "servers.hpp"
#include <troupe/probe.hpp>
#include <troupe/remote/cluster_queue.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;
using cq_test::JetStream;
using cq_test::TempDir;
using Queue = troupe::ClusterQueue<std::int64_t>;

namespace {

#ifdef TROUPE_SANITIZED
constexpr std::int64_t kMany = 10'000;  // sanitizers slow every cnats call down
#else
constexpr std::int64_t kMany = 100'000;
#endif

/// Puts 0..n-1 (ids "item-<n>") and waits for every put to be stored.
void put_range(const Queue& q, std::int64_t from, std::int64_t to) {
  std::vector<troupe::Future<void>> puts;
  puts.reserve(static_cast<std::size_t>(to - from));
  for (std::int64_t i = from; i < to; ++i)
    puts.push_back(q.put(i, {.id = "item-" + std::to_string(i)}));
  for (auto& f : puts) f.get(60s);
}

struct Job {
  std::string url;
  int attempt = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(url, attempt);
  }
};

struct Work {};

/// A worker actor: co_awaits leases and records what it did.
class Worker : public troupe::Actor {
 public:
  Worker(troupe::ClusterQueue<Job> q, std::shared_ptr<std::vector<std::string>> done, int n)
      : queue_(std::move(q)), done_(std::move(done)), left_(n) {}
  troupe::Task<int> on(const Work&) {
    while (left_ > 0) {
      troupe::Lease<Job> lease = co_await queue_.get(10s);
      done_->push_back(lease->url);
      co_await lease.done();
      --left_;
    }
    co_return static_cast<int>(done_->size());
  }

 private:
  troupe::ClusterQueue<Job> queue_;
  std::shared_ptr<std::vector<std::string>> done_;
  int left_;
};

/// The value of series `name` of queue `queue` (and `outcome`, if given) among the system's
/// metrics, or -1 if it has none.
double metric(troupe::System& system, const std::string& name, const std::string& queue,
              const std::string& outcome = "") {
  for (const auto& m : troupe::probe::collect_metrics(system)) {
    if (m.name != name) continue;
    bool mine = false, same_outcome = outcome.empty();
    for (const auto& [k, v] : m.labels) {
      if (k == "queue" && v == queue) mine = true;
      if (k == "outcome" && v == outcome) same_outcome = true;
    }
    if (mine && same_outcome) return m.value;
  }
  return -1;
}

/// Reads the metrics until `done` holds, or 10 s have passed (the queue's JetStream reading
/// is refreshed at most every 250 ms). Returns whether it held.
bool eventually(const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

}  // namespace

TEST_CASE(
    "an observed queue shows its depth, leases, redeliveries, dead letters and done count "
    "among the system's metrics",
    "[observed]") {
  JetStream nats;
  troupe::System system({.workers = 1});
  Queue q({.urls = {nats.url()}, .name = "observed", .max_deliver = 2});
  REQUIRE(metric(system, "troupe_cluster_queue_items", "observed") == -1);
  q.observe(system);
  put_range(q, 0, 4);
  q.put(-1, {.id = "poison"}).get(5s);
  auto at = [&](const char* name, const std::string& outcome = "") {
    return metric(system, std::string("troupe_cluster_queue_") + name, "observed", outcome);
  };
  CHECK(eventually([&] { return at("items") == 5; }));
  CHECK(at("waiting") == 5);
  CHECK(at("stored_total") == 5);
  CHECK(at("puts_total") == 5);
  CHECK(at("up") == 1);
  CHECK(at("capacity") == 0);

  auto held = q.get(5s).get(10s);  // item 0, held: a pending lease
  CHECK(eventually([&] { return at("leases") == 1; }));
  CHECK(at("waiting") == 4);
  held.retry("again").get(5s);  // given back: its next delivery is a redelivery
  // Item 0 once more, 1, 2, 3 done; the poison fails twice and is dead-lettered.
  int settled = 0;
  while (settled < 5) {
    auto lease = q.get(5s).get(10s);
    if (*lease < 0) {
      lease.retry("poison").get(5s);
      if (lease.deliveries() == 2) ++settled;
    } else {
      lease.done().get(5s);
      ++settled;
    }
  }
  q.join().get(10s);
  CHECK(eventually([&] { return at("done_total") == 4 && at("dead_letters") == 1; }));
  CHECK(at("items") == 0);
  CHECK(at("leases") == 0);
  CHECK(at("deliveries_total") == 7);
  CHECK(at("redeliveries_total") == 2);  // item 0 and the poison, once each
  CHECK(at("leased_total") == 7);
  CHECK(at("leased_again_total") == 2);
  CHECK(at("settled_total", "done") == 4);
  CHECK(at("settled_total", "retry") == 2);
  CHECK(at("settled_total", "dead_letter") == 1);

  q.unobserve();
  CHECK(at("items") == -1);
}

TEST_CASE("every item put is leased once, and join returns when each is done", "[basic]") {
  JetStream nats;
  Queue q({.urls = {nats.url()}, .name = "basic", .prefetch = 8});
  put_range(q, 0, 500);
  auto join = q.join();
  CHECK_FALSE(join.wait_for(200ms));  // nothing done yet
  std::set<std::int64_t> seen;
  for (int i = 0; i < 500; ++i) {
    auto lease = q.get(5s).get(10s);
    CHECK(lease.deliveries() == 1);
    CHECK(seen.insert(*lease).second);
    lease.done().get(1s);
  }
  CHECK(seen.size() == 500);
  join.get(10s);
  CHECK_THROWS_AS(q.get(100ms).get(5s), troupe::TimeoutError);
  auto s = q.stats().get(5s);
  CHECK(s.items == 0);
  CHECK(s.dead_letters == 0);
}

TEST_CASE("an actor co_awaits its leases and settles them, and a second settle is refused",
          "[actor]") {
  JetStream nats;
  troupe::System system({.workers = 2});
  troupe::ClusterQueue<Job> q({.urls = {nats.url()}, .name = "actors"});
  for (int i = 0; i < 20; ++i) q.put(Job{"/file/" + std::to_string(i)}).get(5s);
  auto done = std::make_shared<std::vector<std::string>>();
  auto worker = system.spawn<Worker>(q, done, 20);
  CHECK(worker.ask(Work{}).get(30s) == 20);
  q.join().get(10s);
  CHECK(std::set<std::string>(done->begin(), done->end()).size() == 20);

  q.put(Job{"/twice"}).get(5s);
  auto lease = q.get(5s).get(10s);
  lease.done().get(1s);
  CHECK_THROWS_AS(lease.done().get(1s), troupe::UsageError);
  CHECK_THROWS_AS(lease.retry("late").get(1s), troupe::UsageError);
  system.shutdown(5s);
}

TEST_CASE("a second put with the same id is stored once", "[dedup]") {
  JetStream nats;
  Queue q({.urls = {nats.url()}, .name = "dedup"});
  q.put(7, {.id = "job-7"}).get(5s);
  q.put(7, {.id = "job-7"}).get(5s);  // a producer retrying after a lost acknowledgement
  q.put(8, {.id = "job-8"}).get(5s);
  CHECK(q.stats().get(5s).items == 2);
  auto a = q.get(5s).get(10s);
  auto b = q.get(5s).get(10s);
  CHECK(*a == 7);
  CHECK(a.id() == "job-7");
  CHECK(*b == 8);
  a.done();
  b.done();
  q.join().get(10s);
}

TEST_CASE("a full queue makes put wait for room, or fail at once with QueueFull", "[full]") {
  JetStream nats;
  Queue waiting({.urls = {nats.url()}, .name = "bounded", .capacity = 3});
  put_range(waiting, 0, 3);
  auto fourth = waiting.put(3);
  CHECK_FALSE(fourth.wait_for(300ms));  // no room: it waits
  CHECK_THROWS_AS(waiting.put(4, {.timeout = 100ms}).get(5s), troupe::TimeoutError);
  waiting.get(5s).get(10s).done();  // room for one
  fourth.get(5s);
  CHECK(waiting.stats().get(5s).items == 3);

  Queue rejecting({.urls = {nats.url()},
                   .name = "bounded",
                   .capacity = 3,
                   .when_full = troupe::WhenFull::reject});
  CHECK_THROWS_AS(rejecting.put(5).get(5s), troupe::QueueFull);
  CHECK_THROWS_AS(rejecting.put(5).get(5s), troupe::MailboxFull);  // as WorkQueue's is
}

TEST_CASE("a lease not settled within ack_wait is delivered again, and in_progress holds it",
          "[lapse]") {
  JetStream nats;
  Queue q({.urls = {nats.url()}, .name = "lapse", .ack_wait = 600ms});
  q.put(1).get(5s);
  auto held = q.get(5s).get(10s);
  for (int i = 0; i < 4; ++i) {  // 1.2 s of a long job, the lease kept alive
    std::this_thread::sleep_for(300ms);
    held.in_progress();
  }
  CHECK_THROWS_AS(q.get(100ms).get(5s), troupe::TimeoutError);  // still held
  // Now the worker "hangs": its lease lapses and the item comes back.
  auto again = q.get(3s).get(10s);
  CHECK(*again == 1);
  CHECK(again.deliveries() == 2);
  again.done();
  q.join().get(10s);
}

TEST_CASE(
    "a job that always fails reaches the dead letters after max_deliver tries, with its "
    "error, and the queue keeps going",
    "[poison]") {
  JetStream nats;
  Queue q({.urls = {nats.url()}, .name = "poison", .max_deliver = 3});
  q.put(-1, {.id = "poison"}).get(5s);
  put_range(q, 0, 20);
  int good = 0, tries = 0;
  while (good < 20) {
    auto lease = q.get(5s).get(10s);
    if (*lease < 0) {
      ++tries;
      CHECK(lease.deliveries() == static_cast<std::uint64_t>(tries));
      lease.retry("job -1 always fails (try " + std::to_string(tries) + ")").get(5s);
    } else {
      ++good;
      lease.done();
    }
  }
  q.join().get(10s);  // the dead letter left the queue: join is not kept waiting
  CHECK(tries == 3);
  auto dead = q.dead_letters().get(5s);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].item == -1);
  CHECK(dead[0].id == "poison");
  CHECK(dead[0].deliveries == 3);
  CHECK(dead[0].error == "job -1 always fails (try 3)");
  CHECK(q.stats().get(5s).dead_letters == 1);
}

TEST_CASE(
    "an item whose worker dies holding it on its last delivery is dead-lettered with its "
    "last error",
    "[lapsed]") {
  JetStream nats;
  Queue q({.urls = {nats.url()}, .name = "lapsed", .ack_wait = 400ms, .max_deliver = 2});
  q.put(42).get(5s);
  q.get(5s).get(10s).retry("first try failed").get(5s);
  auto held = q.get(5s).get(10s);  // delivery 2, never settled: as if its worker hung
  CHECK(held.deliveries() == 2);
  // Its lease lapses; the next fetch sees delivery 3 > max_deliver and, instead of handing
  // it out, moves it to the dead letters.
  std::this_thread::sleep_for(600ms);
  CHECK_THROWS_AS(q.get(1500ms).get(5s), troupe::TimeoutError);
  q.join().get(10s);
  auto dead = q.dead_letters().get(5s);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].item == 42);
  CHECK(dead[0].error.find("first try failed") != std::string::npos);
  CHECK(dead[0].error.find("never done") != std::string::npos);
}

TEST_CASE("bad options and a server without JetStream are refused with clear errors", "[refused]") {
  CHECK_THROWS_AS(Queue({.name = "no spaces"}), std::invalid_argument);
  CHECK_THROWS_AS(Queue({.name = "x", .max_deliver = 0}), std::invalid_argument);
  cluster::NatsServer plain;  // no -js
  try {
    Queue q({.urls = {plain.url()}, .name = "nojs", .connect_timeout = 500ms});
    FAIL("a queue opened without JetStream");
  } catch (const troupe::ConnectError& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("JetStream") != std::string::npos);
  }
  JetStream nats;
  Queue a({.urls = {nats.url()}, .name = "shape", .capacity = 10});
  try {
    Queue b({.urls = {nats.url()}, .name = "shape", .capacity = 20});
    FAIL("a queue reopened with another capacity");
  } catch (const troupe::ConnectError& e) {
    CHECK(std::string(e.what()).find("other settings") != std::string::npos);
  }
}

TEST_CASE("items through 4 worker processes are each done exactly once, and join returns",
          "[many]") {
  JetStream nats;
  TempDir dir;
  Queue q({.urls = {nats.url()}, .name = "many"});
  std::vector<std::unique_ptr<cluster::Process>> workers;
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i) {
    files.push_back(dir / ("w" + std::to_string(i)));
    workers.push_back(cq_test::worker({nats.url()}, "many", files.back(), 30000, 5, 0));
  }
  for (auto& w : workers) REQUIRE(w->wait_for("READY") == "READY");
  auto start = std::chrono::steady_clock::now();
  put_range(q, 0, kMany);
  q.join().get(120s);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN(kMany << " items through 4 worker processes in " << took << " s");
  for (auto& w : workers) w->close_stdin();
  for (auto& w : workers) CHECK(w->wait_for("COUNT").rfind("COUNT", 0) == 0);
  CHECK(cq_test::finish(workers) == std::vector<std::string>(4, "ok"));
  auto seen = cq_test::tally(files);
  CHECK(static_cast<std::int64_t>(seen.size()) == kMany);
  int twice = 0;
  for (auto& [n, times] : seen) twice += times != 1;
  CHECK(twice == 0);  // no failure happened: no redelivery either
  CHECK(seen.begin()->first == 0);
  CHECK(seen.rbegin()->first == kMany - 1);
}

TEST_CASE("a worker killed holding leases has its items redelivered and finished by the others",
          "[killed]") {
  JetStream nats;
  TempDir dir;
  Queue q({.urls = {nats.url()}, .name = "killed", .ack_wait = 1000ms});
  std::vector<std::unique_ptr<cluster::Process>> workers;
  std::vector<std::string> files;
  for (int i = 0; i < 3; ++i) {
    files.push_back(dir / ("w" + std::to_string(i)));
    workers.push_back(cq_test::worker({nats.url()}, "killed", files.back(), 1000, 5, 20));
  }
  for (auto& w : workers) REQUIRE(w->wait_for("READY") == "READY");
  put_range(q, 0, 300);
  REQUIRE(workers[0]->wait_for("LEASED") == "LEASED");
  std::this_thread::sleep_for(300ms);
  workers[0]->signal(SIGKILL);  // holding a lease: it sleeps 20 ms inside every job
  REQUIRE(workers[0]->wait_exit(5s));
  q.join().get(60s);
  workers[0].reset();  // killed above
  CHECK(cq_test::finish(workers) == std::vector<std::string>(2, "ok"));
  auto seen = cq_test::tally(files);
  CHECK(seen.size() == 300);  // nothing lost
  auto s = q.stats().get(5s);
  CHECK(s.items == 0);
  CHECK(s.dead_letters == 0);
}

TEST_CASE("a NATS server restarted mid-run loses nothing acknowledged, and the run finishes",
          "[restart]") {
  JetStream nats;
  TempDir dir;
  Queue q({.urls = {nats.url()}, .name = "restart", .ack_wait = 2000ms});
  std::vector<std::unique_ptr<cluster::Process>> workers;
  std::vector<std::string> files;
  for (int i = 0; i < 2; ++i) {
    files.push_back(dir / ("w" + std::to_string(i)));
    workers.push_back(cq_test::worker({nats.url()}, "restart", files.back(), 2000, 10, 2));
  }
  for (auto& w : workers) REQUIRE(w->wait_for("READY") == "READY");
  put_range(q, 0, 1000);  // stored (acknowledged) before the restart
  // Half of them put while the server goes away and comes back: they wait, then are sent
  // again with the same ids.
  std::vector<troupe::Future<void>> later;
  std::this_thread::sleep_for(300ms);
  nats.stop();
  for (std::int64_t i = 1000; i < 1500; ++i)
    later.push_back(q.put(i, {.id = "item-" + std::to_string(i)}));
  std::this_thread::sleep_for(500ms);
  nats.start();
  for (auto& f : later) f.get(60s);
  q.join().get(90s);
  CHECK(cq_test::finish(workers) == std::vector<std::string>(2, "ok"));
  auto seen = cq_test::tally(files);
  CHECK(seen.size() == 1500);  // every item put was done (some maybe twice: a lost ack)
  CHECK(seen.begin()->first == 0);
  CHECK(seen.rbegin()->first == 1499);
}

TEST_CASE("a three-server NATS cluster with replicas 3 carries on when one server stops",
          "[replicas]") {
  cq_test::ThreeServers nats;
  TempDir dir;
  Queue q({.urls = nats.urls(),
           .name = "replicated",
           .ack_wait = 2000ms,
           .replicas = 3,
           .connect_timeout = 15000ms});
  std::vector<std::unique_ptr<cluster::Process>> workers;
  std::vector<std::string> files;
  for (int i = 0; i < 2; ++i) {
    files.push_back(dir / ("w" + std::to_string(i)));
    workers.push_back(cq_test::worker(nats.urls(), "replicated", files.back(), 2000, 10, 2, 3));
  }
  for (auto& w : workers) REQUIRE(w->wait_for("READY", 30s) == "READY");
  put_range(q, 0, 600);
  std::this_thread::sleep_for(300ms);
  nats.stop(0);  // the first server goes; its clients move to the others
  std::vector<troupe::Future<void>> later;
  for (std::int64_t i = 600; i < 900; ++i)
    later.push_back(q.put(i, {.id = "item-" + std::to_string(i)}));
  for (auto& f : later) f.get(60s);
  q.join().get(90s);
  CHECK(cq_test::finish(workers) == std::vector<std::string>(2, "ok"));
  auto seen = cq_test::tally(files);
  CHECK(seen.size() == 900);
}
