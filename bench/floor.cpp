// bench/floor.cpp - the physical floor: what one item costs through a bare moodycamel
// ConcurrentQueue between two threads, with no actor, envelope or scheduling around it.
//
// One producer enqueues n integers through a producer token while one consumer spins on
// try_dequeue with a consumer token; the time from the first enqueue to the last dequeue,
// divided by n, is the cost per item. It is the reference for what a message hop between
// two cores can cost on this machine (troupe's run queue is this queue).
#include <atomic>
#include <cstdint>
#include <thread>

#include <concurrentqueue/concurrentqueue.h>

#include "harness.hpp"
#include "workloads.hpp"

namespace bench {

Sample run_floor(const Config& config) {
  const std::uint64_t n = config.floor_items();
  moodycamel::ConcurrentQueue<std::uint64_t> queue;
  std::atomic<bool> go{false};
  std::uint64_t sum = 0;
  std::uint64_t received = 0;

  std::thread consumer([&] {
    moodycamel::ConsumerToken token(queue);
    while (!go.load(std::memory_order_acquire)) {
    }
    std::uint64_t item = 0;
    while (received < n) {
      if (queue.try_dequeue(token, item)) {
        sum += item;
        ++received;
      }
    }
  });

  moodycamel::ProducerToken token(queue);
  go.store(true, std::memory_order_release);
  auto start = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) queue.enqueue(token, i);
  consumer.join();
  double ns = ns_since(start);

  expect_equal("floor: items received", received, n);
  expect_equal("floor: sum of items", sum, sum_below(n));
  return {ns / static_cast<double>(n)};
}

}  // namespace bench
