// troupe/detail/mailbox.hpp - the intrusive queues behind every actor's mailbox.
//
// Not part of the public API. Two structures, both allocation-free (the message is the node):
//  - Mailbox: Dmitry Vyukov's intrusive multi-producer/single-consumer queue. 24 bytes idle.
//    A pop costs no atomic read-modify-write (see Mailbox).
//  - Stack: a Treiber stack the consumer empties in one exchange, for the rare system and
//    urgent messages; the consumer reverses what it takes, so order per sender is kept.
#pragma once

#include <atomic>

namespace troupe::detail {

/// A link in a mailbox. Messages derive from it.
struct Node {
  std::atomic<Node*> next{nullptr};
};

/// Multi-producer, single-consumer FIFO of intrusive nodes.
/// `push` is wait-free and thread-safe; everything else is for the one consumer.
///
/// The node most recently popped stays in the queue as its placeholder (the "dummy" of
/// Vyukov's design), because a producer may still be writing its `next` link. It is handed
/// back as `spent` by the following pop, to be freed then. This way a pop never needs an
/// atomic read-modify-write: the queue is never emptied down to an internal stub node.
class Mailbox {
 public:
  Mailbox() noexcept : head_(&stub_), tail_(&stub_) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  /// Appends `node`. Thread-safe, wait-free, never allocates.
  void push(Node* node) noexcept {
    node->next.store(nullptr, std::memory_order_relaxed);
    Node* prev = head_.exchange(node, std::memory_order_acq_rel);
    prev->next.store(node, std::memory_order_release);
  }

  /// Removes the oldest node, or returns nullptr when empty or when a producer is half-way
  /// through a push (the caller retries later). The previous placeholder, now free of
  /// links, goes to `spent` (nullptr if there is none to free).
  Node* pop(Node*& spent) noexcept {
    Node* tail = tail_;
    Node* next = tail->next.load(std::memory_order_acquire);
    if (next == nullptr) return nullptr;
    tail_ = next;
    spent = tail != &stub_ ? tail : nullptr;
    return next;
  }

  /// True if `node` is the placeholder: popped, but still linked by the queue.
  bool holds(const Node* node) const noexcept { return node == tail_; }

  /// Once no producer can push any more: the placeholder (nullptr if none), which the
  /// queue lets go of, returning to its empty state.
  Node* release_placeholder() noexcept {
    Node* tail = tail_;
    if (tail == &stub_) return nullptr;
    stub_.next.store(nullptr, std::memory_order_relaxed);
    head_.store(&stub_, std::memory_order_relaxed);
    tail_ = &stub_;
    return tail;
  }

 private:
  std::atomic<Node*> head_;  // producers swing this
  Node* tail_;               // consumer only: the placeholder
  Node stub_;
};

/// Lock-free LIFO that the single consumer drains whole with `take_fifo`.
class Stack {
 public:
  /// Pushes `node`. Thread-safe, lock-free.
  void push(Node* node) noexcept {
    Node* top = top_.load(std::memory_order_relaxed);
    do {
      node->next.store(top, std::memory_order_relaxed);
    } while (!top_.compare_exchange_weak(top, node, std::memory_order_release,
                                         std::memory_order_relaxed));
  }

  /// Takes every node pushed so far, oldest first, as a singly linked list. Consumer only.
  Node* take_fifo() noexcept {
    Node* node = top_.exchange(nullptr, std::memory_order_acquire);
    Node* reversed = nullptr;
    while (node != nullptr) {
      Node* next = node->next.load(std::memory_order_relaxed);
      node->next.store(reversed, std::memory_order_relaxed);
      reversed = node;
      node = next;
    }
    return reversed;
  }

  bool empty() const noexcept { return top_.load(std::memory_order_relaxed) == nullptr; }

 private:
  std::atomic<Node*> top_{nullptr};
};

}  // namespace troupe::detail
