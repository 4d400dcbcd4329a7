// Back-pressure through coroutine handlers, end to end: a plain thread floods a pipeline of
// non-reentrant actors (SpawnOptions::reentrant) that ends in a bounded WorkQueue nobody
// reads; the flood stops at the pipeline's size, and memory stays flat.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>
#include <unistd.h>

#include "../support.hpp"
#include <troupe/troupe.hpp>
#include <troupe/work_queue.hpp>

using namespace std::chrono_literals;

using support::eventually;

namespace {

struct Item {
  std::uint32_t n;
};

/// Stage two: puts each item into the queue, holding while the queue is full.
class Shelver : public troupe::Actor {
 public:
  static constexpr bool reentrant = false;
  explicit Shelver(troupe::WorkQueue<std::uint32_t> queue) : queue_(std::move(queue)) {}
  troupe::Task<bool> on(Item item) {
    co_await queue_.put(item.n);
    co_return true;
  }

 private:
  troupe::WorkQueue<std::uint32_t> queue_;
};

/// Stage one: hands each item on to stage two and waits for it to be taken.
class Forwarder : public troupe::Actor {
 public:
  static constexpr bool reentrant = false;
  explicit Forwarder(troupe::Ref<Shelver> next) : next_(std::move(next)) {}
  troupe::Task<void> on(Item item) {
    bool ok = co_await next_.ask(item);
    (void)ok;
  }

 private:
  troupe::Ref<Shelver> next_;
};

/// Resident set size of this process, in bytes.
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("Back-pressure passes through a pipeline of non-reentrant actors: a flood stays bounded") {
#ifdef TROUPE_SANITIZED
  constexpr std::uint32_t kItems = 20'000;
#else
  constexpr std::uint32_t kItems = 200'000;
#endif
  constexpr std::size_t kMailbox = 100;
  constexpr std::size_t kQueue = 10;
  // In flight at most: the queue, one item held by each stage, the first stage's mailbox.
  constexpr std::uint32_t kBound = kMailbox + kQueue + 2;

  // Items the feeder has begun to send (the one it is blocked on counts), and items read.
  std::atomic<std::uint32_t> offered{0};
  std::atomic<std::uint32_t> consumed{0};
  troupe::System system({.workers = 2});
  troupe::WorkQueue<std::uint32_t> queue(system, {.capacity = kQueue});
  auto shelver = system.spawn<Shelver>(queue);
  auto forwarder = system.spawn<Forwarder>(
      {.mailbox_capacity = kMailbox, .overflow = troupe::Overflow::block}, shelver);
  std::size_t rss_before = resident_bytes();

  std::thread feeder([&] {
    for (std::uint32_t i = 0; i < kItems; ++i) {
      offered.store(i + 1, std::memory_order_relaxed);
      if (!forwarder.tell(Item{i})) return;  // never: a blocking mailbox waits for room
    }
  });

  // Nobody reads yet: the feeder fills the pipeline and then waits; it never gets further.
  REQUIRE(eventually([&] { return offered.load() >= kBound; }));
  std::this_thread::sleep_for(100ms);
  CHECK(offered.load() <= kBound + 1);

  // Now drain it: the items arrive complete and in order, and what is in flight never
  // exceeds the bound.
  std::uint32_t most_in_flight = 0;
  bool in_order = true;
  for (std::uint32_t expected = 0; expected < kItems; ++expected) {
    std::uint32_t n = queue.get().get(10s);
    in_order = in_order && n == expected;
    std::uint32_t now = consumed.fetch_add(1, std::memory_order_relaxed) + 1;
    std::uint32_t in_flight = offered.load(std::memory_order_relaxed) - now;
    if (in_flight > most_in_flight) most_in_flight = in_flight;
  }
  feeder.join();
  CHECK(in_order);
  CHECK(offered.load() == kItems);
  CHECK(most_in_flight <= kBound + 1);
#ifndef TROUPE_SANITIZED
  // Flat memory: 200,000 suspended handlers (the reentrant outcome) would take tens of MB.
  std::size_t rss_after = resident_bytes();
  CHECK(rss_after < rss_before + 16 * 1024 * 1024);
#else
  (void)rss_before;
#endif
}

namespace {

/// The same two stages, reentrant: each suspended handler lets the next message in.
class EagerShelver : public Shelver {
 public:
  static constexpr bool reentrant = true;
  using Shelver::Shelver;
};

class EagerForwarder : public troupe::Actor {
 public:
  explicit EagerForwarder(troupe::Ref<EagerShelver> next) : next_(std::move(next)) {}
  troupe::Task<void> on(Item item) {
    bool ok = co_await next_.ask(item);
    (void)ok;
  }

 private:
  troupe::Ref<EagerShelver> next_;
};

}  // namespace

TEST_CASE("Reentrant stages, for contrast, let the whole flood in while nobody reads") {
  constexpr std::uint32_t kItems = 20'000;
  std::atomic<std::uint32_t> sent{0};
  troupe::System system({.workers = 2});
  troupe::WorkQueue<std::uint32_t> queue(system, {.capacity = 10});
  auto shelver = system.spawn<EagerShelver>(queue);
  auto forwarder = system.spawn<EagerForwarder>(
      {.mailbox_capacity = 100, .overflow = troupe::Overflow::block}, shelver);
  std::thread feeder([&] {
    for (std::uint32_t i = 0; i < kItems; ++i) {
      if (!forwarder.tell(Item{i})) return;
      sent.fetch_add(1, std::memory_order_relaxed);
    }
  });
  // Every handler suspends at once, so the bounded mailbox never stays full: the feeder
  // gets everything in, each item a suspended coroutine waiting for room in the queue.
  CHECK(eventually([&] { return sent.load() == kItems; }));
  feeder.join();
  for (std::uint32_t i = 0; i < kItems; ++i) (void)queue.get().get(10s);
}
