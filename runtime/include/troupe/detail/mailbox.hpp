// troupe/detail/mailbox.hpp - the intrusive queues behind every actor's mailbox.
//
// Not part of the public API. Two structures, both allocation-free (the message is the node):
//  - Mailbox: Dmitry Vyukov's intrusive multi-producer/single-consumer queue. 24 bytes idle.
//    A pop costs no atomic read-modify-write, and the head also says whether the actor is
//    scheduled (see Mailbox).
//  - Stack: a Treiber stack the consumer empties in one exchange, for the rare system and
//    urgent messages; the consumer reverses what it takes, so order per sender is kept.
#pragma once

#include <atomic>
#include <cstdint>

namespace troupe::detail {

/// A link in a mailbox. Messages derive from it.
struct alignas(8) Node {
  std::atomic<Node*> next{nullptr};
};

/// Multi-producer, single-consumer FIFO of intrusive nodes, which also decides who runs the
/// consumer. `push` is wait-free and thread-safe; `pop`, `park` and the rest are for the
/// one consumer.
///
/// The node most recently popped stays in the queue as its placeholder (the "dummy" of
/// Vyukov's design), because a producer may still be writing its `next` link. It is handed
/// back as `spent` by the following pop, to be freed then. This way a pop never needs an
/// atomic read-modify-write: the queue is never emptied down to an internal stub node.
///
/// Scheduling lives in the low bits of the head pointer. Untagged, the consumer is active:
/// scheduled or running, and it will look at the queue again. A consumer that finds
/// nothing parks the head as `kIdle` (or `kRetired`, for good). The one producer whose
/// push (or poke) finds the head parked has woken the consumer and must schedule it: a
/// message costs one read-modify-write to send, and an idle actor one to park.
class Mailbox {
 public:
  using State = std::uintptr_t;
  static constexpr State kActive = 0;   // scheduled or running
  static constexpr State kIdle = 1;     // parked: the next push wakes it
  static constexpr State kRetired = 2;  // parked for good: the next push finds it ended
  static constexpr State kPoked = 4;    // something arrived elsewhere (see poke)

  Mailbox() noexcept : head_(address(&stub_)), tail_(&stub_) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  /// Appends `node`. Thread-safe, wait-free, never allocates. Returns what the consumer
  /// was: `kIdle` or `kRetired` means this push woke it and the caller must schedule it;
  /// `kActive` means it is already scheduled or running.
  State push(Node* node) noexcept {
    node->next.store(nullptr, std::memory_order_relaxed);
    State prev = head_.exchange(address(node), std::memory_order_seq_cst);
    node_of(prev)->next.store(node, std::memory_order_release);
    return prev & kParked;
  }

  /// Tells an active consumer that a message went somewhere else (a priority or bounded
  /// queue, checked by `park`'s `nothing_else`): its next park fails, so it looks again.
  /// Wakes a parked consumer, returning `kIdle` or `kRetired` as push does. Thread-safe.
  State poke() noexcept {
    State h = head_.load(std::memory_order_seq_cst);
    for (;;) {
      State next = (h & kParked) != 0 ? h & ~kTags : h | kPoked;
      if (head_.compare_exchange_weak(h, next, std::memory_order_seq_cst)) return h & kParked;
    }
  }

  /// Removes the oldest node, or returns nullptr when empty or when a producer is half-way
  /// through a push (the caller retries later). The previous placeholder, now free of
  /// links, goes to `spent` (nullptr if there is none to free).
  Node* pop(Node*& spent) noexcept { return pop_after(tail_, spent); }

  /// pop() on the consumer's own copy of the placeholder, for a run of pops that writes
  /// nothing next to `head_`, the word producers write (Cell::turn keeps it in a register
  /// for a round). Take it with `placeholder()` and store it back with `set_placeholder`
  /// before anything else pops, parks or asks `holds`.
  Node* pop_after(Node*& tail, Node*& spent) const noexcept {
    Node* next = tail->next.load(std::memory_order_acquire);
    if (next == nullptr) return nullptr;
    spent = tail != &stub_ ? tail : nullptr;
    tail = next;
    return next;
  }
  Node* placeholder() const noexcept { return tail_; }
  void set_placeholder(Node* tail) noexcept { tail_ = tail; }

  /// Parks the consumer as `how` (kIdle or kRetired) if nothing was pushed since the last
  /// pop found the queue empty, nothing was poked since, and `nothing_else()` (which looks
  /// at the other queues) agrees. On success another thread may schedule the consumer at
  /// once: the caller must not touch what owns this mailbox any more.
  template <class NothingElse>
  bool park(State how, NothingElse&& nothing_else) noexcept {
    State h = head_.load(std::memory_order_seq_cst);
    for (;;) {
      if (node_of(h) != tail_) return false;  // pushed since (perhaps half-way)
      if ((h & kPoked) != 0) {
        // Clear the poke before looking elsewhere: a poke after this changes the head
        // again and fails the park below.
        if (!head_.compare_exchange_weak(h, h & ~kPoked, std::memory_order_seq_cst)) continue;
        h &= ~kPoked;
      }
      if (!nothing_else()) return false;
      if (head_.compare_exchange_strong(h, address(tail_) | how, std::memory_order_seq_cst)) {
        return true;
      }
    }
  }

  /// Parks the consumer as `how` although nodes may be queued: they wait until it is woken
  /// for something else (a non-reentrant actor holding for a coroutine; see Cell::hold).
  /// As with `park`, only if nothing was poked and `nothing_else()` agrees; the next push
  /// or poke wakes it.
  template <class NothingElse>
  bool park_anyway(State how, NothingElse&& nothing_else) noexcept {
    State h = head_.load(std::memory_order_seq_cst);
    for (;;) {
      if ((h & kPoked) != 0) {
        if (!head_.compare_exchange_weak(h, h & ~kPoked, std::memory_order_seq_cst)) continue;
        h &= ~kPoked;
      }
      if (!nothing_else()) return false;
      if (head_.compare_exchange_strong(h, h | how, std::memory_order_seq_cst)) return true;
    }
  }

  /// Parks a consumer that no other thread can reach yet. Only if nothing was ever pushed.
  bool park_unshared() noexcept {
    if (head_.load(std::memory_order_relaxed) != address(&stub_)) return false;
    head_.store(address(&stub_) | kIdle, std::memory_order_release);
    return true;
  }

  /// Blocks while the consumer is parked idle (a dedicated thread waiting for mail).
  void wait_while_idle() const noexcept {
    for (State h = head_.load(std::memory_order_acquire); (h & kIdle) != 0;
         h = head_.load(std::memory_order_acquire)) {
      head_.wait(h, std::memory_order_acquire);
    }
  }
  /// Wakes a thread in wait_while_idle.
  void notify() noexcept { head_.notify_one(); }

  /// True if `node` is the placeholder: popped, but still linked by the queue.
  bool holds(const Node* node) const noexcept { return node == tail_; }

  /// Once no producer can push any more: the placeholder (nullptr if none), which the
  /// queue lets go of, returning to its empty (active) state.
  Node* release_placeholder() noexcept {
    Node* tail = tail_;
    if (tail == &stub_) return nullptr;
    stub_.next.store(nullptr, std::memory_order_relaxed);
    head_.store(address(&stub_), std::memory_order_relaxed);
    tail_ = &stub_;
    return tail;
  }

 private:
  static constexpr State kParked = kIdle | kRetired;
  static constexpr State kTags = kParked | kPoked;
  static_assert(alignof(Node) > kTags, "the tags live in a node pointer's low bits");
  static State address(Node* node) noexcept { return reinterpret_cast<State>(node); }
  static Node* node_of(State s) noexcept { return reinterpret_cast<Node*>(s & ~kTags); }

  std::atomic<State> head_;  // the newest node, and the consumer's state in its low bits
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
    } while (!top_.compare_exchange_weak(top, node, std::memory_order_seq_cst,
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

  /// Sequentially consistent, for Mailbox::park's look at the other queues.
  bool empty() const noexcept { return top_.load(std::memory_order_seq_cst) == nullptr; }

 private:
  std::atomic<Node*> top_{nullptr};
};

}  // namespace troupe::detail
