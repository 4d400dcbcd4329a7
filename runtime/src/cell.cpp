// cell.cpp - an actor's mailbox and its turn: enqueue, schedule, deliver, terminate.
//
// Scheduling rests on the mailbox head (see Mailbox): a turn that runs out of messages
// parks it, and the one sender whose push finds it parked schedules the actor (once,
// never twice). A turn handles up to `batch` messages and yields if more remain. A new
// cell's mailbox starts active (as if scheduled), so nothing runs before spawn has
// registered it; born() then parks it or schedules it.
//
// A scheduled cell is kept alive by the registry's reference, not by one per turn: the
// registry lets go only at the end of the actor's last turn, which parks the mailbox as
// retired. Senders check `terminated()` first, so a sender that still finds the mailbox
// retired raced with the end: it takes a reference and schedules one more turn, which
// turns its message into a dead letter and lets go of that reference.
#include <cxxabi.h>

#include <algorithm>
#include <coroutine>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "internal/core.hpp"
#include "troupe/actor.hpp"
#include "troupe/down.hpp"
#include "troupe/system.hpp"

namespace troupe::detail {

namespace {
// initial-exec: a plain %fs-relative load instead of a call to __tls_get_addr per access.
[[gnu::tls_model("initial-exec")]] thread_local Cell* tls_cell = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local Cell* tls_constructing = nullptr;
}  // namespace

Cell* current_cell() noexcept { return tls_cell; }

ConstructionScope::ConstructionScope(Cell* cell) noexcept : saved_(tls_constructing) {
  tls_constructing = cell;
}
ConstructionScope::~ConstructionScope() { tls_constructing = saved_; }
Cell* ConstructionScope::take() noexcept { return std::exchange(tls_constructing, nullptr); }

/// Access to Cell's protected hooks for the runtime's own envelopes.
struct CellAccess {
  static void deliver_down(Cell& cell, const Down& down) { cell.deliver_down(down); }
  static Cold& cold(Cell& cell) { return cell.cold(); }
};

// -- runtime messages --------------------------------------------------------------------------

/// A coroutine waiting for a future, registered with the actor it must resume on.
struct Suspension {
  std::coroutine_handle<> handle;  // resume this
  std::coroutine_handle<> root;    // destroy this if the actor ends first
  Ref<Actor> owner;
  std::atomic<bool> claimed{false};  // the future's side: posted a resumption, or gave up
  bool dead = false;                 // the owner's side: frame destroyed (owner's turn only)
};

namespace {

/// The runtime's own messages: not dead letters when rejected, and they overtake others.
template <class Payload>
struct RuntimeEnvelope : Carrying<Payload> {
  using Carrying<Payload>::Carrying;
  bool counts_as_dead_letter() const noexcept override { return false; }
  bool is_system() const noexcept override { return true; }
};

/// A child's failure, raised again inside its parent (OnFailure::escalate).
struct EscalateEnvelope final : RuntimeEnvelope<std::exception_ptr> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell&) override { std::rethrow_exception(payload); }
};

struct Nothing {};

struct StopEnvelope final : RuntimeEnvelope<Nothing> {
  void deliver(Cell& target) override { target.request_stop(nullptr); }
};

struct DownEnvelope final : RuntimeEnvelope<Down> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell& target) override { CellAccess::deliver_down(target, payload); }
};

Down make_down(Cell& ended) {
  return Down{Access::ref(&ended), ended.display_name(), ended.reason()};
}

struct WatchEnvelope final : RuntimeEnvelope<Ref<Actor>> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell& target) override {
    CellAccess::cold(target).watchers.push_back(std::move(payload));  // the watcher
  }
  void reject(Cell& target) noexcept override {  // already ended: tell the watcher now
    try {
      Access::cell(payload)->enqueue(new DownEnvelope(make_down(target)), Priority::system);
    } catch (...) {
    }
  }
};

struct ResumeEnvelope final : RuntimeEnvelope<std::shared_ptr<Suspension>> {
  using RuntimeEnvelope::RuntimeEnvelope;
  void deliver(Cell& target) override {
    Suspension& suspension = *payload;
    if (suspension.dead) return;  // a restart destroyed the frame meanwhile
    auto& list = CellAccess::cold(target).suspended;
    std::erase(list, payload);
    suspension.handle.resume();
  }
  // A resumption that cannot be delivered does nothing: the frame is still listed in
  // `suspended` and is destroyed by the owner's own turn (terminate), never elsewhere.
  void reject(Cell&) noexcept override {}
};

}  // namespace

void Envelope::reject(Cell&) noexcept {}

std::function<void()> make_resumer(std::coroutine_handle<> handle, std::coroutine_handle<> root) {
  Cell* cell = tls_cell;
  if (cell == nullptr) return [handle] { handle.resume(); };
  auto s = std::make_shared<Suspension>();
  s->handle = handle;
  s->root = root;
  s->owner = Access::ref(cell);
  CellAccess::cold(*cell).suspended.push_back(s);
  return [s] {
    if (!s->claimed.exchange(true, std::memory_order_acq_rel)) {
      Access::cell(s->owner)->enqueue(new ResumeEnvelope(s));
    }
  };
}

void fail_current(std::exception_ptr error) noexcept {
  if (tls_cell != nullptr) tls_cell->defer_failure(std::move(error));
}

void send_stop(Cell* cell, StopMode mode) noexcept {
  if (cell == nullptr || cell->terminated()) return;
  cell->enqueue(new StopEnvelope, mode == StopMode::now ? Priority::system : Priority::normal);
}

// -- identity ----------------------------------------------------------------------------------

Cell::~Cell() {
  if (Node* last = mail_.release_placeholder()) delete static_cast<Envelope*>(last);
  delete cold_.load(std::memory_order_acquire);
  if (id_ != 0) core_->cell_freed(this);  // registered cells keep the core alive
}

Cold& Cell::cold() {
  Cold* c = cold_.load(std::memory_order_acquire);
  if (c == nullptr) {  // only the actor's own turn (or spawn, before publication) gets here
    c = new Cold;
    cold_.store(c, std::memory_order_release);
  }
  return *c;
}

std::string_view Cell::name() const noexcept {
  Cold* c = cold_.load(std::memory_order_acquire);
  return c != nullptr ? std::string_view(c->name) : std::string_view();
}

std::string Cell::display_name() const {
  std::string_view n = name();
  if (!n.empty()) return std::string(n);
  int status = 0;
  char* raw = abi::__cxa_demangle(type().name(), nullptr, nullptr, &status);
  std::string type_name = status == 0 && raw != nullptr ? raw : type().name();
  std::free(raw);
  return type_name + "#" + std::to_string(id_);
}

std::exception_ptr Cell::reason() const noexcept {
  if (!failed()) return nullptr;
  Cold* c = cold_.load(std::memory_order_acquire);
  return c != nullptr ? c->reason : nullptr;
}

std::exception_ptr Cell::stopped_error() const {
  std::string why = failed() ? "failed: " + describe(reason()) : "is stopped";
  return std::make_exception_ptr(ActorStopped("actor '" + display_name() + "' " + why));
}

std::uint32_t Cell::mailbox_depth() const noexcept {
  auto depth = static_cast<std::int32_t>(sent_.load(std::memory_order_relaxed) -
                                         handled_.load(std::memory_order_relaxed));
  return depth > 0 ? static_cast<std::uint32_t>(depth) : 0;  // lost counts read low
}

// -- sending -----------------------------------------------------------------------------------

Cell::Cell(Core& core) noexcept
    : core_(&core), flags_(core.tracer() != nullptr ? kTraced : 0) {}

bool Cell::enqueue_slow(Envelope* e, Priority priority, StateBase* answer) noexcept {
  if (terminated()) {
    dead_letter(e);
    return false;
  }
  if (Tracer* tracer = core_->tracer()) tracer->sent(e);
  if ((flags() & kBounded) != 0 && priority == Priority::normal) return enqueue_bounded(e);
  // Counted before the push, so that the turn handling it cannot count it first.
  sent_.store(sent_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  Mailbox::State state;
  if (priority == Priority::normal) {
    state = mail_.push(e);
  } else {
    priority_.push(e);
    state = mail_.poke();
  }
  if (state == Mailbox::kActive) return true;
  // An ask that woke the actor: its message comes first (before any normal message sent
  // after it), so the turn that answers can run on the asker's thread once it waits. The
  // flags are read again: a Ref handed out by the constructor can reach here before spawn
  // published them, and a dedicated thread must be the only one to run its actor's turns.
  if (answer != nullptr && state == Mailbox::kIdle && (flags() & kDedicated) == 0) {
    core_->scheduler().hand_off(this, *answer);
  } else {
    wake(state);
  }
  return true;
}

bool Cell::enqueue_ask(Envelope* e, StateBase& answer) noexcept {
  // Only a plain thread can wait on the answer (a worker or a turn must not block), and
  // only a pool actor's turn can be handed over.
  bool may_hand_off = tls_cell == nullptr && !on_worker_thread() &&
                      (flags() & (kBounded | kDedicated)) == 0 && !core_->scheduler().manual();
  return may_hand_off ? enqueue_slow(e, Priority::normal, &answer) : enqueue(e);
}

void Cell::wake(Mailbox::State state) noexcept {
  if (state == Mailbox::kRetired) {
    // The actor ended after our check of terminated(): one more turn makes the message a
    // dead letter. It runs on the pool (a dedicated thread has gone) and holds a reference
    // of its own, as the registry's is gone.
    add_ref();
    core_->scheduler().schedule(this);
  } else if ((flags() & kDedicated) != 0) {
    mail_.notify();
  } else {
    core_->scheduler().schedule(this);
  }
}

bool Cell::park(Mailbox::State how) noexcept {
  return mail_.park(how, [this] {
    if (!priority_.empty()) return false;
    if ((flags() & kBounded) == 0) return true;
    Cold::Bounded& b = *cold_.load(std::memory_order_acquire)->bounded;
    std::lock_guard lock(b.mutex);
    return b.queue.empty();
  });
}

void Cell::born() noexcept {
  // Called by the registry with the cell's shard locked (and the name map, for a named
  // cell), so neither find() nor shutdown can hand out a Ref meanwhile. If only the
  // registry and the spawner hold a reference, no other thread can reach the cell (a Ref
  // handed out and dropped again synchronised with the load), so nothing races with a
  // plain store. This is the common case, and saves an atomic RMW per spawn.
  if (refs_.load(std::memory_order_acquire) == 2 && priority_.empty() && mail_.park_unshared()) {
    return;
  }
  if (park(Mailbox::kIdle)) return;
  // Messages sent during construction and registration: run them now. A dedicated
  // thread, started after this, finds the mailbox active and runs them by itself.
  if ((flags() & kDedicated) == 0) core_->scheduler().schedule(this);
}

void Cell::stillborn() noexcept {
  Node* taken = nullptr;
  status_.store(1, std::memory_order_release);  // senders from now on: dead letters
  // A sender holding a Ref from the constructor may have passed the check above already.
  // The birth keeps the mailbox active: reject what is queued until it parks as retired,
  // after which a racing sender schedules a turn that rejects its message (see wake).
  for (;;) {
    reject_all(taken);
    if (park(Mailbox::kRetired)) return;
    std::this_thread::yield();  // a sender is half-way through its push
  }
}

bool Cell::enqueue_bounded(Envelope* e) noexcept {
  Cold::Bounded& b = *cold_.load(std::memory_order_acquire)->bounded;
  auto full = [&] {
    return std::make_exception_ptr(MailboxFull("the mailbox of '" + display_name() +
                                               "' is full (capacity " +
                                               std::to_string(b.capacity) + ")"));
  };
  std::unique_lock lock(b.mutex);
  while (b.queue.size() >= b.capacity && !terminated()) {
    Overflow policy = b.overflow;
    if (policy == Overflow::block && !on_worker_thread()) {
      b.space.wait(lock);
      continue;
    }
    if (policy == Overflow::drop_oldest) {
      Envelope* oldest = b.queue.front();
      b.queue.pop_front();
      b.queue.push_back(e);  // one out, one in: counted as sent already; the actor is awake
      lock.unlock();
      try {
        oldest->refuse(full());
      } catch (...) {
      }
      core_->dead_letter(*this, *oldest);
      oldest->dispose();
      delete oldest;
      return true;
    }
    lock.unlock();  // reject, drop_newest, and block from a worker (which must not wait)
    try {
      e->refuse(full());
    } catch (...) {
    }
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
  lock.unlock();
  if (Mailbox::State state = mail_.poke(); state != Mailbox::kActive) wake(state);
  return true;
}

void Cell::dead_letter(Envelope* e) noexcept {
  if (e->counts_as_dead_letter()) core_->dead_letter(*this, *e);
  e->reject(*this);
  e->dispose();
  delete e;
}

void Cell::dead_letter_queued(Envelope* e) noexcept {
  if (e->counts_as_dead_letter()) core_->dead_letter(*this, *e);
  e->reject(*this);
  finish(e);
}

void Cell::finish(Envelope* e) noexcept {
  e->dispose();
  if (!mail_.holds(e)) delete e;  // else the mailbox frees it with the next pop
}

// -- the turn ------------------------------------------------------------------------------------

Envelope* Cell::next_envelope(Node*& taken) noexcept {
  if (!priority_.empty()) {
    // New system messages go before everything taken so far, new urgent ones after it.
    Node* system_first = nullptr;
    Node* system_last = nullptr;
    Node* urgent_first = nullptr;
    Node* urgent_last = nullptr;
    auto append = [](Node*& first, Node*& last, Node* n) {
      n->next.store(nullptr, std::memory_order_relaxed);
      if (last != nullptr) {
        last->next.store(n, std::memory_order_relaxed);
      } else {
        first = n;
      }
      last = n;
    };
    for (Node* n = priority_.take_fifo(); n != nullptr;) {
      Node* next = n->next.load(std::memory_order_relaxed);
      if (static_cast<Envelope*>(n)->is_system()) {
        append(system_first, system_last, n);
      } else {
        append(urgent_first, urgent_last, n);
      }
      n = next;
    }
    for (Node* n = taken; n != nullptr;) {  // keep what was already taken
      Node* next = n->next.load(std::memory_order_relaxed);
      append(system_first, system_last, n);
      n = next;
    }
    if (urgent_first != nullptr) {  // splice the whole urgent list on the end
      if (system_last != nullptr) {
        system_last->next.store(urgent_first, std::memory_order_relaxed);
      } else {
        system_first = urgent_first;
      }
    }
    taken = system_first;
  }
  if (taken != nullptr) {
    Node* n = taken;
    taken = n->next.load(std::memory_order_relaxed);
    return static_cast<Envelope*>(n);
  }
  if ((flags() & kBounded) != 0) {
    // Messages sent from the constructor, before spawn made the mailbox bounded, wait in
    // the plain mailbox; they go first.
    if (Envelope* early = pop_mailbox()) return early;
    Cold::Bounded& b = *cold_.load(std::memory_order_acquire)->bounded;
    Envelope* e = nullptr;
    {
      std::lock_guard lock(b.mutex);
      if (b.queue.empty()) return nullptr;
      e = b.queue.front();
      b.queue.pop_front();
    }
    b.space.notify_one();
    return e;
  }
  return pop_mailbox();
}

Envelope* Cell::pop_mailbox() noexcept {
  Node* spent = nullptr;
  Node* n = mail_.pop(spent);
  if (spent != nullptr) delete static_cast<Envelope*>(spent);  // handled before: a shell
  return static_cast<Envelope*>(n);
}

std::uint32_t Cell::reject_all(Node*& taken) noexcept {
  std::uint32_t n = 0;
  while (Envelope* e = next_envelope(taken)) {
    dead_letter_queued(e);
    ++n;
  }
  return n;
}

void Cell::request_stop(std::exception_ptr error) noexcept {
  if (error && !stop_failed_) {
    stop_failed_ = true;
    try {
      cold().reason = std::move(error);
    } catch (...) {
    }
  }
  stop_requested_ = true;
}

void Cell::defer_failure(std::exception_ptr error) noexcept {
  try {
    Cold& c = cold();
    if (!c.pending_failure) c.pending_failure = std::move(error);
    failure_pending_ = true;
  } catch (...) {
    request_stop(std::current_exception());
  }
}

std::uint32_t Cell::restarts() const noexcept {
  Cold* c = cold_.load(std::memory_order_acquire);
  return c != nullptr ? c->restarts.load(std::memory_order_relaxed) : 0;
}

void Cell::handle_failure(std::exception_ptr error) noexcept {
  auto policy = static_cast<OnFailure>((flags() >> kPolicyShift) & 3);
  switch (policy) {
    case OnFailure::resume:
      return;  // the ask (if any) already carries the exception; the state is kept
    case OnFailure::restart: {
      Cold& c = *cold_.load(std::memory_order_acquire);  // made at spawn for this policy
      Clock::time_point now = core_->timers().clock().now();
      while (!c.restart_times.empty() && now - c.restart_times.front() > c.restart_window) {
        c.restart_times.pop_front();
      }
      if (c.restart_times.size() >= c.max_restarts) break;  // too many: stop, failed
      c.restart_times.push_back(now);
      restart(std::move(error));
      return;
    }
    case OnFailure::escalate: {
      Cold* c = cold_.load(std::memory_order_acquire);
      if (c != nullptr && c->parent) {
        Access::cell(c->parent)->enqueue(new EscalateEnvelope(error), Priority::system);
      }
      break;
    }
    case OnFailure::stop:
      break;
  }
  request_stop(std::move(error));
}

void Cell::cancel_coroutines_and_timers(Cold& c) noexcept {
  for (auto& s : c.suspended) {
    s->claimed.exchange(true, std::memory_order_acq_rel);
    if (!s->dead) {
      s->dead = true;
      s->root.destroy();
    }
  }
  c.suspended.clear();
  for (auto& t : c.timers) t->cancelled.store(true, std::memory_order_release);
  c.timers.clear();
}

void Cell::restart(std::exception_ptr error) noexcept {
  Cold& c = *cold_.load(std::memory_order_acquire);
  cancel_coroutines_and_timers(c);  // the old actor's timers and waits die with it
  destroy_actor();
  c.restarts.fetch_add(1, std::memory_order_relaxed);
  try {
    c.rebuild(this);
  } catch (...) {
    core_->report_failure(*this, error);
    request_stop(std::current_exception());  // could not rebuild: end, failed
  }
}

template <bool kForAsker>
Cell::Next Cell::turn() noexcept {
  Cell* saved = std::exchange(tls_cell, this);
  Node* taken = nullptr;  // priority messages taken this turn: all handled before it ends
  std::uint32_t handled = 0;
  Tracer* tracer = core_->tracer();
  const std::uint32_t batch = kForAsker ? 1 : core_->options().batch;
  for (unsigned empty_rounds = 0;;) {
    auto start = tracer != nullptr ? std::chrono::steady_clock::now()
                                   : std::chrono::steady_clock::time_point{};
    std::uint32_t round = 0;  // messages handled since the last attempt to park
    if (!terminated()) {
      while (handled + round < batch || taken != nullptr) {
        // The common case first: no urgent or system message, a plain mailbox.
        Envelope* e = taken == nullptr && priority_.empty() && (flags() & kBounded) == 0
                          ? pop_mailbox()
                          : next_envelope(taken);
        if (e == nullptr) break;
        ++round;
        if (tracer != nullptr) tracer->delivered(e);
        try {
          e->deliver(*this);
        } catch (...) {
          failures_.store(failures_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
          handle_failure(std::current_exception());
        }
        finish(e);
        if (failure_pending_) {  // a coroutine handler failed during this message
          failure_pending_ = false;
          failures_.store(failures_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
          handle_failure(std::exchange(cold().pending_failure, nullptr));
        }
        if (stop_requested_) break;
      }
      handled += round;
      handled_.store(handled_.load(std::memory_order_relaxed) + round,
                     std::memory_order_relaxed);
      if (stop_requested_) terminate(taken);
    }
    std::uint32_t rejected = terminated() ? reject_all(taken) : 0;
    tls_cell = saved;
    if (tracer != nullptr) tracer->turn(*this, start, std::chrono::steady_clock::now() - start);
    bool ended = terminated();
    bool used_up = !ended && handled >= batch;
    if (!kForAsker && used_up) return Next::again;  // the rest waits its turn

    // Nothing left that this turn can see. A sender that raced and lost counts may have
    // left `sent_` below `handled_`: nothing is queued now, so catch it up.
    if (!ended) {
      std::uint32_t sent = sent_.load(std::memory_order_relaxed);
      std::uint32_t done = handled_.load(std::memory_order_relaxed);
      if (static_cast<std::int32_t>(sent - done) < 0) {
        sent_.store(done, std::memory_order_relaxed);
      }
    }
    // Park. From here on another turn may run (a sender schedules it), retire the cell and
    // free it: on success, this turn must not touch the cell again.
    if (park(ended ? Mailbox::kRetired : Mailbox::kIdle)) {
      if (!ended) return Next::idle;
      // The registry's reference (or, after a racing send, the one wake() took) goes.
      release();
      return Next::retired;
    }
    if (kForAsker && used_up) return Next::again;  // the rest is for the pool
    // Something arrived meanwhile. Go on with it, unless twice nothing could be taken: a
    // sender is half-way through its push, so let others run first.
    empty_rounds = round == 0 && rejected == 0 ? empty_rounds + 1 : 0;
    if (empty_rounds >= 2) return Next::again;
    tls_cell = this;
  }
}

void Cell::run() noexcept {
  if (turn<false>() == Next::again) core_->scheduler().yield(this);
}

void Cell::run_for_asker() noexcept {
  if (turn<true>() == Next::again) core_->scheduler().yield(this);
}

void Cell::terminate(Node*& taken) noexcept {
  Cold* c = cold_.load(std::memory_order_acquire);
  status_.store(stop_failed_ ? 2 : 1, std::memory_order_release);
  if (c != nullptr) {
    // Coroutines still waiting: destroy their frames now, while the actor object exists.
    cancel_coroutines_and_timers(*c);
    if (c->bounded) {  // wake senders blocked on a full mailbox: they see the end
      { std::lock_guard lock(c->bounded->mutex); }
      c->bounded->space.notify_all();
    }
    reject_all(taken);  // queued resumptions destroy their frames here too
    for (auto& child : c->children) send_stop(Access::cell(child), StopMode::now);
    c->children.clear();
  }
  if (c != nullptr && c->parent) {
    bool watching = std::find(c->watchers.begin(), c->watchers.end(), c->parent) !=
                    c->watchers.end();
    if (stop_failed_ && !watching) c->watchers.push_back(c->parent);  // a failure reaches the parent
    c->parent = Ref<Actor>();
  }
  if (stop_failed_ && (c == nullptr || c->watchers.empty())) {
    core_->report_failure(*this, reason());  // nobody is told: say it on stderr
  }
  destroy_actor();
  if (c != nullptr && !c->watchers.empty()) {
    for (auto& w : c->watchers) {
      try {
        Access::cell(w)->enqueue(new DownEnvelope(make_down(*this)), Priority::system);
      } catch (...) {
      }
    }
    c->watchers.clear();
  }
  core_->retire(this);
}

// -- dedicated threads -----------------------------------------------------------------------------

void Cell::run_dedicated() noexcept {
  // The thread holds its own reference, so the cell outlives the retiring turn. It runs
  // while the mailbox is active: from birth if messages came early, else once a sender
  // wakes it.
  for (;;) {
    mail_.wait_while_idle();
    Next next;
    do {
      next = turn<false>();
    } while (next == Next::again);
    if (next == Next::retired) return;
  }
}

}  // namespace troupe::detail

// -- Actor ---------------------------------------------------------------------------------------

namespace troupe {

Actor::Actor() : cell_(detail::ConstructionScope::take()) {
  if (cell_ == nullptr) {
    throw std::logic_error("troupe::Actor objects are made by System::spawn, not directly");
  }
}

Actor::~Actor() = default;

System& Actor::system() const noexcept { return cell_->core().system(); }

std::string_view Actor::name() const noexcept { return cell_->name(); }

void Actor::stop() noexcept { cell_->request_stop(nullptr); }

void Actor::watch_cell(detail::Cell* other) {
  if (other == nullptr) throw std::invalid_argument("watch: the Ref is empty");
  Ref<Actor> me = self();
  other->enqueue(new detail::WatchEnvelope(std::move(me)), detail::Priority::system);
}

}  // namespace troupe
