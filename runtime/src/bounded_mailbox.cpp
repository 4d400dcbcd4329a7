// bounded_mailbox.cpp - a mailbox with a capacity (SpawnOptions::mailbox_capacity) and
// what happens to a message that does not fit (Overflow). The turn takes from it in
// turn.cpp (next_envelope).
#include <algorithm>
#include <string>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "internal/current.hpp"

namespace troupe::detail {

bool Cell::enqueue_bounded(Envelope* e) noexcept {
  Cold::Bounded& b = *cold_.load(std::memory_order_acquire)->bounded;
  // The runtime's own messages (a draining stop, a coroutine's resumption) keep their
  // place in line behind the user's, but the overflow policy is for user messages only:
  // they are never refused, dropped, evicted or made to wait, and take no capacity.
  const bool runtime_message = !e->counts_as_dead_letter();
  auto full = [&]() noexcept {
    try {
      return std::make_exception_ptr(MailboxFull("the mailbox of '" + display_name() +
                                                 "' is full (capacity " +
                                                 std::to_string(b.capacity) + ")"));
    } catch (...) {
      return std::current_exception();  // out of memory: the asker learns that instead
    }
  };
  std::unique_lock lock(b.mutex);
  while (!runtime_message && b.user_messages >= b.capacity && !terminated()) {
    Overflow policy = b.overflow;
    // Only a plain thread waits: a worker must not, and neither may any actor's turn
    // (a dedicated thread's included), since two actors waiting on each other's full
    // mailboxes would never wake.
    if (policy == Overflow::block && tls_cell == nullptr && !must_not_block()) {
      b.space.wait(lock);
      continue;
    }
    if (policy == Overflow::drop_oldest) {
      // The oldest user message makes room; runtime messages are skipped over. There is
      // one: user_messages >= capacity >= 1.
      auto oldest_it = std::find_if(b.queue.begin(), b.queue.end(),
                                    [](Envelope* q) { return q->counts_as_dead_letter(); });
      TROUPE_ASSERT(oldest_it != b.queue.end(), "a full bounded mailbox holds a user message");
      Envelope* oldest = *oldest_it;
      b.queue.erase(oldest_it);
      b.queue.push_back(e);  // one out, one in: counted as sent already; the actor is awake
      lock.unlock();
      oldest->refuse(full());
      core_->dead_letter(*this, *oldest);
      oldest->dispose();
      delete oldest;
      return true;
    }
    lock.unlock();  // reject, drop_newest, and block from an actor (which must not wait)
    e->refuse(full());
    if (policy == Overflow::drop_newest) core_->dead_letter(*this, *e);
    e->dispose();
    delete e;
    return false;
  }
  if (terminated()) {
    lock.unlock();
    dead_letter(e);
    return false;
  }
  sent_.store(sent_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  b.queue.push_back(e);
  if (!runtime_message) ++b.user_messages;
  TROUPE_ASSERT(b.user_messages <= b.queue.size() && b.user_messages <= b.capacity,
                "user messages in a bounded mailbox never exceed its queue or capacity");
  lock.unlock();
  if (Mailbox::State state = mail_.poke(); state != Mailbox::kActive) wake(state);
  return true;
}

}  // namespace troupe::detail
