// troupe/detail/cell.hpp - the control block of one actor. Not public API.
//
// A Cell and the user's actor object share one allocation (Block<T>). The Cell holds what
// the runtime needs: reference count, mailboxes, scheduling state. The actor object is
// destroyed when the actor terminates (breaking reference cycles between actors), the Cell
// when the last Ref goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "troupe/detail/mailbox.hpp"
#include "troupe/detail/pool.hpp"
#include "troupe/fwd.hpp"

namespace troupe::detail {

/// What a worker runs: an actor's turn or a submitted job.
class Runnable {
 public:
  /// Runs on a worker; never throws. The scheduler guarantees exclusivity.
  virtual void run() noexcept = 0;

 protected:
  ~Runnable() = default;
};

/// Where a message goes in the mailbox. System messages (stop, down) overtake urgent ones,
/// urgent ones overtake normal ones.
enum class Priority : std::uint8_t { normal, urgent, system };

/// A message on its way to an actor. `deliver` runs the handler; `reject` disposes of a
/// message that can no longer be handled (a dead letter), failing any future it carries.
///
/// What the message carries ends in `dispose`, called exactly once when it has been handled
/// or rejected. The envelope's memory may outlive that: the mailbox keeps the last message
/// it handed out as its placeholder (see Mailbox), so `delete` frees only the shell.
struct TROUPE_API Envelope : Node, Pooled {
  Envelope() = default;
  Envelope(const Envelope&) = delete;
  Envelope& operator=(const Envelope&) = delete;
  virtual ~Envelope() = default;
  virtual void deliver(Cell& target) = 0;
  /// Ends what the message carries (see above). Nothing for messages that carry nothing.
  virtual void dispose() noexcept {}
  virtual void reject(Cell& target) noexcept;
  /// Fails whatever future the message carries with `why` (asks); nothing for tells.
  virtual void refuse(std::exception_ptr why) noexcept { (void)why; }
  /// The message type, for dead-letter logs. Empty for runtime-internal messages.
  virtual const std::type_info* message_type() const noexcept { return nullptr; }
  /// True for messages that count as dead letters when rejected (user messages).
  virtual bool counts_as_dead_letter() const noexcept { return true; }
  /// True for the runtime's system messages (stop, down, watch), which overtake urgent ones.
  virtual bool is_system() const noexcept { return false; }
  /// True for messages a non-reentrant actor takes while a coroutine handler holds it
  /// (resumptions, stop, watch): none that runs one of the user's handlers.
  virtual bool runs_while_held() const noexcept { return false; }
};

/// An envelope carrying `Payload`, whose life ends in dispose(), not in the destructor.
template <class Payload>
struct Carrying : Envelope {
  template <class... Args>
  explicit Carrying(Args&&... args) {
    std::construct_at(&payload, std::forward<Args>(args)...);
  }
  ~Carrying() override {}  // the payload ended in dispose()
  void dispose() noexcept override { std::destroy_at(&payload); }
  union {
    Payload payload;
  };
};

struct Cold;
class StateBase;

/// Nonzero while some System of the process samples sends or records a live trace
/// (troupe/probe.hpp): sends then leave enqueue's inline path for enqueue_slow, which looks
/// at its own System's probes. Defined in runtime/src/probe.cpp.
TROUPE_API extern std::atomic<std::uint32_t> send_probes;

class TROUPE_API Cell : public Runnable, public Pooled {
 public:
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  // -- references ------------------------------------------------------------------------
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // -- messages ----------------------------------------------------------------------------
  /// Hands `e` to this actor (ownership passes). Returns false if the actor has terminated:
  /// the message was turned into a dead letter. A message that races with the end (sent as
  /// the last turn finishes) is accepted, and made a dead letter by one more turn.
  /// Thread-safe, never blocks. The caller must hold a reference to the cell.
  bool enqueue(Envelope* e, Priority priority = Priority::normal) noexcept {
    // Inline, for the common case: a normal message to a live actor with a plain mailbox
    // and no tracer or probe. Counted before the push, so the turn handling it cannot
    // count first.
    if (((flags() & (kBounded | kTraced)) | static_cast<std::uint8_t>(priority) |
         send_probes.load(std::memory_order_relaxed)) == 0 &&
        !terminated()) [[likely]] {
      std::uint32_t sent = sent_.load(std::memory_order_relaxed) + 1;
      sent_.store(sent, std::memory_order_relaxed);
      if ((sent & kTimedPushMask) == 0) [[unlikely]] return enqueue_timed(e);
      if (Mailbox::State state = mail_.push(e); state != Mailbox::kActive) [[unlikely]] {
        wake(state);
      }
      return true;
    }
    return enqueue_slow(e, priority);
  }
  /// enqueue() for everything else (runtime/src/cell.cpp); with `answer`, for an ask that
  /// may hand its turn over (enqueue_ask).
  bool enqueue_slow(Envelope* e, Priority priority, StateBase* answer = nullptr) noexcept;
  /// The fast path's push for one message in kTimedPushMask + 1: timed, to tell the pool
  /// how long senders wait for the mailbox head's cache line (send.cpp, note_stall).
  bool enqueue_timed(Envelope* e) noexcept;
  static constexpr std::uint32_t kTimedPushMask = 127;
  /// enqueue() for an ask, whose future has the shared state `answer`. From a plain thread
  /// to an idle pool actor, the turn it schedules is a Handoff that an untimed wait on
  /// `answer` may run on the asking thread.
  bool enqueue_ask(Envelope* e, StateBase& answer) noexcept;
  /// Messages queued and not yet handled; the one in hand counts until its turn ends.
  /// Exact with one sender at a time; racing senders can make it read low until the actor
  /// next runs out of messages.
  std::uint32_t mailbox_depth() const noexcept;

  // -- identity and state ------------------------------------------------------------------
  Actor* actor() const noexcept { return actor_; }
  Core& core() const noexcept { return *core_; }
  std::uint32_t id() const noexcept { return id_; }
  /// The spawn name, or "" for an unnamed actor. Thread-safe (immutable after spawn).
  std::string_view name() const noexcept;
  /// The name, or "<type>#<id>" for unnamed actors.
  std::string display_name() const;
  bool terminated() const noexcept { return status() != Status::alive; }
  bool failed() const noexcept { return status() == Status::failed; }
  bool daemon() const noexcept { return (flags() & kDaemon) != 0; }
  /// The exception that ended the actor (null if it stopped normally). Call once terminated.
  std::exception_ptr reason() const noexcept;
  /// An ActorStopped error describing why this actor no longer takes messages.
  std::exception_ptr stopped_error() const;
  virtual const std::type_info& type() const noexcept = 0;
  /// Whether the actor's class is `U` or derives (publicly, unambiguously) from it. Looks
  /// only at the static type, never at the actor object: safe on any thread, even while
  /// the actor's turn destroys or rebuilds it.
  template <class U>
  bool is_a() const {
    if (type() == typeid(U)) return true;
    // A pointer thrown as the actor's class is caught as a U* exactly when that class
    // converts to U: the language's own derived-to-base test, with no object needed.
    try {
      throw_null_pointer();
    } catch (U*) {
      return true;
    } catch (...) {
    }
    return false;  // any other type
  }

  // -- inside the actor's own turn -----------------------------------------------------------
  /// Ends the actor after the current message; `error` non-null marks it failed.
  void request_stop(std::exception_ptr error) noexcept;
  /// Records a failure from a coroutine handler; the turn applies the supervision policy
  /// once the current message is done.
  void defer_failure(std::exception_ptr error) noexcept;
  /// Supervision restarts so far.
  std::uint32_t restarts() const noexcept;
  /// Messages handled so far (wraps at 2^32). Thread-safe, approximate while it runs.
  std::uint32_t handled() const noexcept { return handled_.load(std::memory_order_relaxed); }
  /// Exceptions that escaped its handlers (counted by its turns; read racily in snapshots).
  std::uint32_t failures() const noexcept;
  /// False for a non-reentrant actor (SpawnOptions::reentrant): a coroutine handler that
  /// waits holds it, and it takes no other user message until that coroutine ends.
  bool reentrant() const noexcept { return (flags() & kNonReentrant) == 0; }
  /// A non-reentrant actor's coroutine handler starts (hold) or ends (release_hold); while
  /// held, turns take only messages that run_while_held. Turn only.
  void hold() noexcept { held_ = true; }
  void release_hold() noexcept { held_ = false; }
  bool held() const noexcept { return held_; }

  /// A pool worker's turn: handles up to `batch` messages, then yields if more remain.
  void run() noexcept override;
  /// A turn on the thread waiting for the answer to the first queued message (a Handoff):
  /// handles that one message (and any urgent or system ones before it), then parks or
  /// leaves the rest to the pool.
  void run_for_asker() noexcept;
  /// The loop of a dedicated-thread actor; returns once the actor has ended.
  void run_dedicated() noexcept;
  /// The registry has listed the cell: messages sent to it so far may run now. Called by
  /// Registry::add with the cell's shard (and name) locked.
  void born() noexcept;
  /// Spawn failed after construction: what was sent to it becomes dead letters, and so
  /// does anything sent later.
  void stillborn() noexcept;

 protected:
  explicit Cell(Core& core) noexcept;
  virtual ~Cell();
  virtual void destroy_actor() noexcept = 0;  // idempotent
  // Lifecycle hooks of the actor object (see troupe/actor.hpp); nothing if not declared.
  virtual void call_on_start() = 0;
  virtual void call_on_stop() = 0;
  virtual void call_on_restart(const std::exception_ptr& reason) = 0;
  /// Throws a null pointer to the actor's class (for is_a).
  [[noreturn]] virtual void throw_null_pointer() const = 0;
  virtual void deliver_down(const Down& down) = 0;

 private:
  friend class Core;
  friend class Registry;
  friend struct CellAccess;
  static constexpr std::uint8_t kDaemon = 1;
  static constexpr std::uint8_t kDedicated = 2;
  static constexpr std::uint8_t kBounded = 4;
  static constexpr unsigned kPolicyShift = 3;  // OnFailure in bits 3-4
  static constexpr std::uint8_t kTraced = 32;  // the system has a tracer (set at birth)
  static constexpr std::uint8_t kNonReentrant = 64;  // SpawnOptions::reentrant == false
  // The flag bits must not overlap (every OnFailure value fits in two bits:
  // supervision.cpp checks it).
  static_assert(((kDaemon | kDedicated | kBounded) >> kPolicyShift) == 0);
  static_assert(((3u << kPolicyShift) & (kTraced | kNonReentrant)) == 0 &&
                (3u << kPolicyShift) < 256);

  /// What follows a turn: another one (the batch is used up), or nothing until a sender
  /// wakes the actor (idle), or nothing ever (retired; the turn let go of a reference).
  enum class Next : std::uint8_t { again, idle, retired };
  /// Handles up to the system's batch of messages, then returns `again` at once. A turn
  /// for an asker (run_for_asker) handles one, then parks if nothing is left.
  template <bool kForAsker>
  Next turn() noexcept;
  /// Parks the mailbox (see Mailbox::park), also checking the priority and bounded queues
  /// and the deferred messages. A held actor parks with user messages still queued.
  bool park(Mailbox::State how) noexcept;
  /// A user message taken off the priority stack while held waits in Cold::deferred.
  void defer(Envelope* e) noexcept;
  /// A message taken from this actor's queues is done: end it, and free its memory unless
  /// the mailbox still links through it. Turn only.
  void finish(Envelope* e) noexcept;
  void handle_failure(std::exception_ptr error) noexcept;
  void restart(std::exception_ptr error) noexcept;
  /// Destroys the coroutines this actor waits in (their asks fail with `why`) and cancels
  /// its timers. Turn only.
  void cancel_coroutines_and_timers(Cold& c, std::exception_ptr why) noexcept;
  bool enqueue_bounded(Envelope* e) noexcept;
  /// Schedules the actor, which the send that returned `state` (idle or retired) woke.
  void wake(Mailbox::State state) noexcept;
  // `taken`: urgent and system messages taken off the stack and sorted, not yet handled.
  // It lives in the turn (not in the cell) and is always emptied before the turn ends.
  Envelope* next_envelope(Node*& taken) noexcept;
  Envelope* pop_mailbox() noexcept;
  Envelope* timed_pop(Node*& tail, Node*& spent) noexcept;  // one pop in 128 (turn.cpp)
  std::uint32_t reject_all(Node*& taken) noexcept;
  void terminate(Node*& taken) noexcept;
  /// Rejects `e`, which was never queued (the sender's side). Any thread.
  void dead_letter(Envelope* e) noexcept;
  /// Rejects `e`, taken from this actor's queues. Turn only.
  void dead_letter_queued(Envelope* e) noexcept;
  Cold& cold();
  void count_own_failure() noexcept;

  // Laid out by who touches what with every message (docs/internals.md, "A cell's cache
  // lines"). First, next to the mailbox's head: what senders write (`sent_`, the head) and
  // read (`status_`, `flags_`) with every message, which the actor's turn reads only once a
  // round. Then some 60 bytes that neither side touches per message. Last, what the turn reads
  // with every message: no two of these groups share a 64-byte line, wherever the pool
  // puts the cell, so a sender on one core and the actor on another do not pass a line
  // back and forth for each message.
  //
  // Messages sent (mod 2^32), counted by senders with a plain load and store, not a
  // read-modify-write: racing senders may lose counts (see mailbox_depth).
  std::atomic<std::uint32_t> sent_{0};
  /// Set once, alive -> stopped or failed, by the last turn (or stillborn). Senders read
  /// it (acquire) before they push: see send.cpp for the race with the end.
  enum class Status : std::uint8_t { alive, stopped, failed };
  std::atomic<Status> status_{Status::alive};
  Status status() const noexcept { return status_.load(std::memory_order_acquire); }
  // Set by spawn once the cell is configured (its bounded queue made), with a release
  // store: a constructor may already have handed self() to another thread, whose sends
  // read this with acquire (a plain load on x86).
  std::atomic<std::uint8_t> flags_{0};
  std::uint8_t flags() const noexcept { return flags_.load(std::memory_order_acquire); }
  std::uint8_t home_ = 0xff;  // the pool worker of its last turn (internal/scheduler.hpp)
  Mailbox mail_;  // starts active: nothing runs until born() parks or schedules it

  Core* core_;
  Cell* prev_ = nullptr;  // registry links, guarded by the Core's registry lock
  Cell* next_ = nullptr;
  std::atomic<Cold*> cold_{nullptr};
  std::atomic<std::uint32_t> refs_{2};  // the registry's and the spawner's Ref
  std::uint32_t id_ = 0;
  std::atomic<std::uint32_t> handled_{0};  // messages handled (mod 2^32); written by turns

  bool stop_requested_ : 1 = false;
  bool stop_failed_ : 1 = false;
  bool failure_pending_ : 1 = false;
  bool held_ : 1 = false;      // a non-reentrant actor's coroutine handler waits
  bool deferred_ : 1 = false;  // Cold::deferred holds messages (set and cleared by turns)
  Stack priority_;  // urgent and system messages (rare): sorted when taken

 protected:
  Actor* actor_ = nullptr;
};

/// Sets the cell an Actor constructor binds to, for the duration of a construction.
class TROUPE_API ConstructionScope {
 public:
  explicit ConstructionScope(Cell* cell) noexcept;
  ~ConstructionScope();
  ConstructionScope(const ConstructionScope&) = delete;
  ConstructionScope& operator=(const ConstructionScope&) = delete;
  static Cell* take() noexcept;

 private:
  Cell* saved_;
};

/// The cell whose turn runs on this thread, or nullptr.
TROUPE_API Cell* current_cell() noexcept;

/// A Cell sharing its allocation with an actor of type T.
template <class T>
class Block final : public Cell {
 public:
  // Which lifecycle hooks T declares (hiding Actor's empty ones). A hook declared private
  // or protected in T makes this a compile error naming it, as a private handler would.
  static constexpr bool kOnStart = !std::is_same_v<decltype(&T::on_start), void (Actor::*)()>;
  static constexpr bool kOnStop = !std::is_same_v<decltype(&T::on_stop), void (Actor::*)()>;
  static constexpr bool kOnRestart =
      !std::is_same_v<decltype(&T::on_restart), void (Actor::*)(const std::exception_ptr&)>;

  template <class... Args>
  explicit Block(Core& core, Args&&... args) : Cell(core) {
    ConstructionScope scope(this);
    std::construct_at(&object_, std::forward<Args>(args)...);
    actor_ = &object_;
  }
  const std::type_info& type() const noexcept override { return typeid(T); }

 protected:
  [[noreturn]] void throw_null_pointer() const override { throw static_cast<T*>(nullptr); }
  void call_on_start() override {
    if constexpr (kOnStart) object_.on_start();
  }
  void call_on_stop() override {
    if constexpr (kOnStop) object_.on_stop();
  }
  void call_on_restart(const std::exception_ptr& reason) override {
    if constexpr (kOnRestart) object_.on_restart(reason);
    call_on_start();
  }
  ~Block() override {
    if (actor_ != nullptr) object_.~T();  // still alive: it was never registered
  }
  void destroy_actor() noexcept override {
    if (actor_ == nullptr) return;
    actor_ = nullptr;
    object_.~T();
  }

 public:
  /// Builds a fresh T in place of one destroyed by a supervision restart.
  template <class... Args>
  void rebuild(Args&&... args) {
    ConstructionScope scope(this);
    std::construct_at(&object_, std::forward<Args>(args)...);
    actor_ = &object_;
  }
  void deliver_down(const Down& down) override {
    if constexpr (requires(T& t) { t.on(down); }) object_.on(down);
  }

 private:
  union {
    T object_;
  };
};

}  // namespace troupe::detail
