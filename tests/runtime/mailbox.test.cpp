// Tests of runtime/include/troupe/detail/mailbox.hpp: the intrusive queues behind a mailbox.
//
// These drive the queues directly, without a System: Mailbox (multi-producer FIFO, one
// consumer) and Stack (multi-producer LIFO that the consumer drains oldest first).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;
using troupe::detail::Mailbox;
using troupe::detail::Node;
using troupe::detail::Stack;

namespace {

/// A message as the queues see it: a Node, plus who sent it and its place in that sender's
/// sequence.
struct Item : Node {
  int producer = 0;
  int seq = 0;
};

Item* as_item(Node* n) { return static_cast<Item*>(n); }

/// Pops, ignoring which placeholder was freed by it (these tests own the nodes).
Node* pop(Mailbox& box) {
  Node* spent = nullptr;
  return box.pop(spent);
}

/// `producers` arrays of `per_producer` items, numbered. Nodes cannot move, hence arrays.
std::vector<std::unique_ptr<Item[]>> make_items(int producers, int per_producer) {
  std::vector<std::unique_ptr<Item[]>> items;
  for (int p = 0; p < producers; ++p) {
    items.push_back(std::make_unique<Item[]>(static_cast<std::size_t>(per_producer)));
    for (int i = 0; i < per_producer; ++i) {
      items[p][i].producer = p;
      items[p][i].seq = i;
    }
  }
  return items;
}

/// Collects a Stack's take_fifo list into sequence numbers.
std::vector<int> seqs_of(Node* list) {
  std::vector<int> out;
  for (Node* n = list; n != nullptr; n = n->next.load(std::memory_order_relaxed)) {
    out.push_back(as_item(n)->seq);
  }
  return out;
}

}  // namespace

// -- Mailbox -----------------------------------------------------------------------------------

TEST_CASE("an empty mailbox pops nullptr") {
  Mailbox box;
  REQUIRE(pop(box) == nullptr);
  REQUIRE(pop(box) == nullptr);
}

TEST_CASE("a mailbox hands nodes back in the order one thread pushed them") {
  Mailbox box;
  std::vector<Item> items(10);
  for (int i = 0; i < 10; ++i) {
    items[i].seq = i;
    box.push(&items[i]);
  }
  for (int i = 0; i < 10; ++i) {
    Node* n = pop(box);
    REQUIRE(n == &items[i]);
    REQUIRE(as_item(n)->seq == i);
  }
  REQUIRE(pop(box) == nullptr);
}

TEST_CASE("a mailbox with one node pops it, then is empty") {
  Mailbox box;
  Item only;
  box.push(&only);
  REQUIRE(pop(box) == &only);
  REQUIRE(pop(box) == nullptr);
  REQUIRE(box.holds(&only));  // popped, but still the placeholder producers link to
}

TEST_CASE("a drained mailbox keeps working when pushes and pops interleave") {
  Mailbox box;
  std::vector<Item> items(100);
  int next_pop = 0;
  for (int i = 0; i < 100; ++i) {
    items[i].seq = i;
    box.push(&items[i]);
    if (i % 3 == 2) {  // drain everything so far, then go on pushing
      while (Node* n = pop(box)) REQUIRE(as_item(n)->seq == next_pop++);
      REQUIRE(next_pop == i + 1);
    }
  }
  while (Node* n = pop(box)) REQUIRE(as_item(n)->seq == next_pop++);
  REQUIRE(next_pop == 100);
  REQUIRE(pop(box) == nullptr);
}

TEST_CASE("a popped node comes back as spent with the next pop, and can then be reused") {
  Mailbox box;
  Item a;
  Item b;
  Node* spent = &a;
  box.push(&a);
  REQUIRE(box.pop(spent) == &a);
  REQUIRE(spent == nullptr);  // the queue's own stub was the placeholder before
  box.push(&b);
  REQUIRE(box.pop(spent) == &b);
  REQUIRE(spent == &a);  // no longer linked: free to go, or to be pushed again
  for (int round = 0; round < 5; ++round) {
    box.push(&a);
    REQUIRE(box.pop(spent) == &a);
    REQUIRE(spent == &b);
    box.push(&b);
    REQUIRE(box.pop(spent) == &b);
    REQUIRE(spent == &a);
  }
}

TEST_CASE("a retired mailbox lets go of its placeholder and is empty again") {
  Mailbox box;
  REQUIRE(box.release_placeholder() == nullptr);
  Item a;
  box.push(&a);
  REQUIRE(pop(box) == &a);
  REQUIRE(box.release_placeholder() == &a);
  REQUIRE(box.release_placeholder() == nullptr);
  Item b;
  box.push(&b);
  REQUIRE(pop(box) == &b);
}

TEST_CASE("4 producers push 100,000 nodes each into one mailbox; the consumer gets all, "
          "each producer's in order") {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 100'000;
  Mailbox box;
  auto items = make_items(kProducers, kPerProducer);

  std::atomic<int> ready{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      ready.fetch_add(1);
      while (ready.load() < kProducers) std::this_thread::yield();  // start together
      for (int i = 0; i < kPerProducer; ++i) box.push(&items[p][i]);
    });
  }

  // The single consumer: this thread. pop() may return nullptr while a producer is half-way
  // through a push, so keep polling until everything arrived or the deadline passes.
  std::vector<int> next_seq(kProducers, 0);
  int received = 0;
  int out_of_order = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (received < kProducers * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    Node* n = pop(box);
    if (n == nullptr) {
      std::this_thread::yield();
      continue;
    }
    Item* item = as_item(n);
    if (item->seq != next_seq[item->producer]) ++out_of_order;
    next_seq[item->producer] = item->seq + 1;
    ++received;
  }
  for (auto& t : producers) t.join();

  REQUIRE(received == kProducers * kPerProducer);
  REQUIRE(out_of_order == 0);
  for (int p = 0; p < kProducers; ++p) REQUIRE(next_seq[p] == kPerProducer);
  REQUIRE(pop(box) == nullptr);
}

// -- Stack -------------------------------------------------------------------------------------

TEST_CASE("an empty stack is empty and takes nothing") {
  Stack stack;
  REQUIRE(stack.empty());
  REQUIRE(stack.take_fifo() == nullptr);
}

TEST_CASE("a stack's take_fifo returns what was pushed, oldest first") {
  Stack stack;
  std::vector<Item> items(5);
  for (int i = 0; i < 5; ++i) {
    items[i].seq = i;
    stack.push(&items[i]);
  }
  REQUIRE_FALSE(stack.empty());
  REQUIRE(seqs_of(stack.take_fifo()) == std::vector<int>{0, 1, 2, 3, 4});
  REQUIRE(stack.empty());
  REQUIRE(stack.take_fifo() == nullptr);
}

TEST_CASE("a stack taken in several rounds keeps the order within and across rounds") {
  Stack stack;
  std::vector<Item> items(6);
  for (int i = 0; i < 6; ++i) items[i].seq = i;
  stack.push(&items[0]);
  stack.push(&items[1]);
  REQUIRE(seqs_of(stack.take_fifo()) == std::vector<int>{0, 1});
  stack.push(&items[2]);
  REQUIRE(seqs_of(stack.take_fifo()) == std::vector<int>{2});
  stack.push(&items[3]);
  stack.push(&items[4]);
  stack.push(&items[5]);
  REQUIRE(seqs_of(stack.take_fifo()) == std::vector<int>{3, 4, 5});
}

TEST_CASE("a stack pushed from 4 threads while the consumer takes keeps each sender's order") {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20'000;
  Stack stack;
  auto items = make_items(kProducers, kPerProducer);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) stack.push(&items[p][i]);
    });
  }

  std::vector<int> next_seq(kProducers, 0);
  int received = 0;
  int out_of_order = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (received < kProducers * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    Node* list = stack.take_fifo();
    if (list == nullptr) {
      std::this_thread::yield();
      continue;
    }
    for (Node* n = list; n != nullptr;) {
      Node* next = n->next.load(std::memory_order_relaxed);
      Item* item = as_item(n);
      if (item->seq != next_seq[item->producer]) ++out_of_order;
      next_seq[item->producer] = item->seq + 1;
      ++received;
      n = next;
    }
  }
  for (auto& t : producers) t.join();

  REQUIRE(received == kProducers * kPerProducer);
  REQUIRE(out_of_order == 0);
  REQUIRE(stack.empty());
}
