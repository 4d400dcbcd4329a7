// tests/cluster/queue_main.cpp - a worker process of the cluster queue tests.
//
//   queue_main work URLS NAME OUT ACK_WAIT_MS MAX_DELIVER SLOW_MS REPLICAS
//
// Opens ClusterQueue<std::int64_t> NAME on URLS (comma-separated), prints READY, then takes
// leases until its stdin closes. For each item it appends the number to OUT (one line,
// flushed: the test's own record of work done) and then settles the lease with done(); a
// negative number is a job that always fails (retry with an error naming it). SLOW_MS > 0
// sleeps that long per item before recording it (so that a kill catches leases held).
// Prints LEASED after its first lease, and COUNT <n> when it leaves.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <troupe/remote/cluster_queue.hpp>

using namespace std::chrono_literals;

namespace {

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(part);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9 || std::string(argv[1]) != "work") {
    std::fprintf(stderr,
                 "usage: queue_main work URLS NAME OUT ACK_WAIT_MS MAX_DELIVER SLOW_MS REPLICAS\n");
    return 2;
  }
  std::FILE* out = std::fopen(argv[4], "a");
  if (out == nullptr) {
    std::fprintf(stderr, "queue_main: cannot open %s\n", argv[4]);
    return 2;
  }
  auto slow = std::chrono::milliseconds(std::atoi(argv[7]));
  try {
    troupe::ClusterQueue<std::int64_t> queue(
        {.urls = split(argv[2]),
         .name = argv[3],
         .ack_wait = std::chrono::milliseconds(std::atoi(argv[5])),
         .max_deliver = std::atoi(argv[6]),
         .replicas = std::atoi(argv[8]),
         .prefetch = slow.count() > 0 ? 1 : 64,
         .connect_timeout = std::chrono::milliseconds(15000)});
    std::atomic<bool> stop{false};
    std::thread stdin_watch([&] {
      std::string line;
      while (std::getline(std::cin, line)) {
      }
      stop = true;
    });
    say("READY");
    long count = 0;
    while (!stop) {
      std::optional<troupe::Lease<std::int64_t>> lease;
      try {
        lease.emplace(queue.get(200ms).get(10s));
      } catch (const troupe::TimeoutError&) {
        continue;
      }
      if (count == 0) say("LEASED");
      std::int64_t n = **lease;
      if (n < 0) {
        lease->retry("job " + std::to_string(n) + " always fails");
        continue;
      }
      if (slow.count() > 0) std::this_thread::sleep_for(slow);
      std::fprintf(out, "%lld\n", static_cast<long long>(n));
      std::fflush(out);
      lease->done();
      ++count;
    }
    stdin_watch.join();
    say("COUNT " + std::to_string(count));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "queue_main: %s\n", e.what());
    say(std::string("ERROR ") + e.what());
    return 1;
  }
  std::fclose(out);
  return 0;
}
