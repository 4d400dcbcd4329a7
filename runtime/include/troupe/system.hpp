// troupe/system.hpp - System: the worker pool, the registry and the lifecycle of actors.
//
//   troupe::System system;                          // one worker per core
//   auto acct = system.spawn<Account>("account");
//   acct.tell(Deposit{10});
//   int b = acct.ask(Balance{}).get(std::chrono::seconds(1));
//   auto sq = system.submit([](int x) { return x * x; }, 7);   // ThreadPoolExecutor.submit
//   system.join();                                  // wait for non-daemon actors, like Python
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/actor.hpp"
#include "troupe/detail/job.hpp"
#include "troupe/export.hpp"
#include "troupe/function_actor.hpp"
#include "troupe/options.hpp"
#include "troupe/when.hpp"

namespace troupe {

/// Counters of a running system. A snapshot; each is monotonic.
struct SystemStats {
  std::uint64_t spawned = 0;       ///< actors ever spawned
  std::uint64_t dead_letters = 0;  ///< messages that reached no handler
  std::uint64_t worker_sleeps = 0; ///< times an idle worker went to sleep (a futex wait)
  std::uint64_t wakeups = 0;       ///< times a sleeping worker was woken for work
  std::uint64_t steals = 0;        ///< work an idle worker took that another had queued
  std::uint64_t migrations = 0;    ///< pool turns of an actor that last ran on another worker
  std::uint64_t gathers = 0;       ///< times the pool gathered its work onto one worker
  std::uint64_t asker_turns = 0;   ///< asks answered on the plain thread waiting in get()
  std::uint64_t failures = 0;      ///< exceptions that escaped handlers, whatever the policy
  std::uint64_t restarts = 0;      ///< actors rebuilt by the restart policy
  std::uint64_t refusals = 0;      ///< requests handlers refused (troupe::Refused)
  /// Messages handled by actors that have ended; with the live actors' ActorInfo::handled,
  /// every message handled so far.
  std::uint64_t handled_by_ended = 0;
  std::size_t timers_pending = 0;  ///< timers waiting to fire (after, every, system timers)
};

class TROUPE_API System {
 public:
  /// Starts the worker pool. Throws std::invalid_argument for options that make no sense.
  explicit System(SystemOptions options = {});
  /// Shuts down with `options.shutdown_deadline` (drain, then drop) and joins the workers.
  ~System();
  System(const System&) = delete;
  System& operator=(const System&) = delete;

  // -- spawning ------------------------------------------------------------------------------

  /// Spawns an actor of class T. Thread-safe. What follows T is read by its first argument
  /// (the same rule as Actor::spawn; README, "Spawning"):
  ///
  ///   system.spawn<Account>();                      // unnamed, built with Account()
  ///   system.spawn<Account>("acct", 1000L);         // a string first is the name
  ///   system.spawn<Account>({.daemon = true}, 1000L);  // SpawnOptions first (`{}` for none)
  ///   system.spawn<Account>(1000L);                 // anything else: all go to Account(...)
  ///
  /// A string that T could also take as its first constructor argument does not compile
  /// (ambiguous): write `{.name = s}` or `{}, s` to say which it is.
  /// Throws std::invalid_argument if the name is taken, ShutdownError after shutdown began,
  /// and whatever T's constructor throws.
  template <ActorClass T, class... Args>
  Ref<T> spawn(SpawnOptions options, Args&&... args) {
    return spawn_under<T>(nullptr, std::move(options), std::forward<Args>(args)...);
  }
  template <ActorClass T, class... Args>
  Ref<T> spawn(Args&&... args) {
    return spawn_args<T>(nullptr, std::forward<Args>(args)...);
  }
  /// Spawns a function actor: `handler` (a lambda or Overload) handles every message it
  /// accepts; what it returns answers asks. Options or a name may come first, as above.
  template <class F>
    requires(!ActorClass<std::remove_cvref_t<F>>)
  Ref<FunctionActor<std::decay_t<F>>> spawn(SpawnOptions options, F&& handler) {
    return spawn<FunctionActor<std::decay_t<F>>>(std::move(options), std::forward<F>(handler));
  }
  template <class Name, class F>
    requires(detail::SpawnName<Name> && !ActorClass<std::remove_cvref_t<F>>)
  Ref<FunctionActor<std::decay_t<F>>> spawn(Name&& name, F&& handler) {
    return spawn(SpawnOptions{.name = std::string(std::string_view(name))},
                 std::forward<F>(handler));
  }
  template <class F>
    requires(!ActorClass<std::remove_cvref_t<F>>)
  Ref<FunctionActor<std::decay_t<F>>> spawn(F&& handler) {
    return spawn(SpawnOptions{}, std::forward<F>(handler));
  }

  // -- the executor shapes -------------------------------------------------------------------

  /// Runs `fn(args...)` on the pool and returns a future of its result or exception.
  /// Arguments are copied (or moved) now. After shutdown began the future fails with
  /// ShutdownError. Thread-safe, never blocks. `fn` runs on a worker: it must not block.
  template <class F, class... Args>
  auto submit(F&& fn, Args&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;
    auto call = [fn = std::forward<F>(fn), ... args = std::forward<Args>(args)]() mutable {
      return std::invoke(fn, args...);
    };
    Promise<R> promise;
    Future<R> future = promise.future();
    post(new detail::Job<R, decltype(call)>(*core_, std::move(promise), std::move(call)));
    return future;
  }

  /// Submits `fn(item)` for every item and returns a future of all results in order (or
  /// the first error). Like ThreadPoolExecutor.map, without blocking the caller.
  template <class F, class Range>
  auto map(F fn, const Range& items) {
    using Item = decltype(*std::begin(items));
    using R = std::invoke_result_t<F&, Item>;
    std::vector<Future<R>> futures;
    for (const auto& item : items) futures.push_back(submit(fn, item));
    return when_all(std::move(futures));
  }

  // -- timers --------------------------------------------------------------------------------

  /// Sends `message` to `target` after `delay` (on the system's clock). Thread-safe.
  template <class T, class M>
    requires Handles<T, M>
  Timer after(Clock::duration delay, const Ref<T>& target, M&& message) {
    return detail::make_timer(*core_, nullptr, delay, Clock::duration::zero(), target,
                              std::forward<M>(message));
  }
  /// Sends `message` to `target` every `period` until cancelled. Thread-safe.
  template <class T, class M>
    requires Handles<T, M>
  Timer every(Clock::duration period, const Ref<T>& target, M&& message) {
    if (period <= Clock::duration::zero()) throw std::invalid_argument("every: period must be > 0");
    return detail::make_timer(*core_, nullptr, period, period, target, std::forward<M>(message));
  }

  // -- the registry --------------------------------------------------------------------------

  /// The live actor named `name` if it is a T (or derives from T). Thread-safe.
  template <ActorClass T>
  std::optional<Ref<T>> find(std::string_view name) const {
    // The type check reads the cell's static type, never the actor object, which the
    // actor's own turn may be destroying or rebuilding meanwhile (stop, restart).
    Ref<Actor> found = find_cell(name, [](const detail::Cell& c) { return c.is_a<T>(); });
    if (!found) return std::nullopt;
    return detail::Access::ref<T>(detail::Access::cell(found));
  }
  /// A snapshot of every live actor. Thread-safe; takes the registry lock briefly.
  std::vector<ActorInfo> actors() const;
  /// Live actors, daemons included (Python's active_count). Thread-safe.
  std::size_t count() const noexcept;
  /// Counters. Thread-safe.
  SystemStats stats() const noexcept;
  /// Worker threads in the pool.
  unsigned workers() const noexcept;

  // -- lifecycle -----------------------------------------------------------------------------

  /// Waits until every non-daemon actor has ended and every submitted function has run.
  /// Blocking: not for worker threads (throws WouldDeadlock).
  void join();
  /// As join(), giving up after `timeout`; returns whether everything ended.
  bool join(std::chrono::milliseconds timeout);

  /// Stops everything, within `deadline`: refuses new spawns and submits; in drain mode
  /// actors first handle what is queued; at the deadline the rest is dropped (dead letters,
  /// failed asks, cancelled jobs). Every future resolves. Stops the workers. Returns true if
  /// everything ended within the deadline. Idempotent; thread-safe (not from a worker).
  bool shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(5),
                StopMode mode = StopMode::drain);

  // -- deterministic mode (SystemOptions::deterministic) -------------------------------------

  /// Runs one turn of one ready actor (or one submitted function) on this thread. Returns
  /// false if nothing was ready. Throws std::logic_error on a threaded system.
  bool run_once();
  /// Runs turns until nothing is ready or `max_steps` turns ran; returns the turns run.
  std::size_t run_until_idle(std::size_t max_steps = 10'000'000);
  /// Moves the manual clock forward; due timers put their messages in the mailboxes (run
  /// them with run_until_idle).
  void advance(Clock::duration d);
  /// Turns waiting to run (deterministic mode; 0 otherwise).
  std::size_t runnable() const;

 private:
  friend class Actor;
  friend struct detail::Access;  // core(): troupe/probe.hpp's functions reach the engine

  // The one reading of spawn's arguments, for System::spawn and Actor::spawn alike.
  template <ActorClass T, class... Args>
  Ref<T> spawn_args(detail::Cell* parent, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
      return spawn_under<T>(parent, SpawnOptions{});
    } else {
      return spawn_first<T>(parent, std::forward<Args>(args)...);
    }
  }
  template <ActorClass T, class First, class... Rest>
  Ref<T> spawn_first(detail::Cell* parent, First&& first, Rest&&... rest) {
    if constexpr (std::is_same_v<std::remove_cvref_t<First>, SpawnOptions>) {
      return spawn_under<T>(parent, std::forward<First>(first), std::forward<Rest>(rest)...);
    } else if constexpr (detail::SpawnName<First>) {
      static_assert(!std::is_constructible_v<T, First, Rest...>,
                    "troupe: spawn<T>(s, args...) is ambiguous: a string first is the actor's "
                    "name, but T can also be built from (s, args...). Say which: "
                    "spawn<T>({.name = s}, args...) or spawn<T>({}, s, args...)");
      return spawn_under<T>(parent, SpawnOptions{.name = std::string(std::string_view(first))},
                            std::forward<Rest>(rest)...);
    } else {
      return spawn_under<T>(parent, SpawnOptions{}, std::forward<First>(first),
                            std::forward<Rest>(rest)...);
    }
  }

  template <ActorClass T, class... Args>
  Ref<T> spawn_under(detail::Cell* parent, SpawnOptions options, Args&&... args) {
    static_assert(std::is_constructible_v<T, Args...>,
                  "troupe: spawn<T>(...): T has no public constructor taking these arguments "
                  "(those after the SpawnOptions or the name, if one came first)");
    check_spawn(options);
    if constexpr (requires { bool{T::reentrant}; }) {
      if (!options.reentrant) options.reentrant = T::reentrant;  // the class's own choice
    }
    std::function<void(detail::Cell*)> rebuild;
    if (options.on_failure == OnFailure::restart) {
      // Keep copies of the arguments: each restart builds a fresh T from them.
      if constexpr ((std::is_copy_constructible_v<std::decay_t<Args>> && ...)) {
        rebuild = [... saved = std::decay_t<Args>(args)](detail::Cell* cell) {
          static_cast<detail::Block<T>*>(cell)->rebuild(saved...);
        };
      } else {
        throw std::invalid_argument("OnFailure::restart needs copyable spawn arguments");
      }
    }
    auto* block = new detail::Block<T>(*core_, std::forward<Args>(args)...);
    Ref<T> ref = detail::Access::adopt<T>(block);  // a new cell counts the spawner's reference
    // on_start runs first in the first turn: a system message overtakes anything the
    // constructor sent, and makes born() schedule the actor.
    if constexpr (detail::Block<T>::kOnStart) detail::send_start(block);
    adopt(block, std::move(options), parent, std::move(rebuild));  // the registry's reference
    return ref;
  }
  /// Throws ShutdownError once shutdown began, std::invalid_argument for options that
  /// make no sense.
  void check_spawn(const SpawnOptions& options) const;
  void require_deterministic(const char* what) const;
  void adopt(detail::Cell* cell, SpawnOptions options, detail::Cell* parent,
             std::function<void(detail::Cell*)> rebuild);
  void post(detail::JobBase* job);
  Ref<Actor> find_cell(std::string_view name, bool (*is_wanted)(const detail::Cell&)) const;

  std::shared_ptr<detail::Core> core_;
};

// -- Actor members that need System ---------------------------------------------------------

template <ActorClass T, class... Args>
Ref<T> Actor::spawn(SpawnOptions options, Args&&... args) {
  return system().spawn_under<T>(cell_, std::move(options), std::forward<Args>(args)...);
}

template <ActorClass T, class... Args>
Ref<T> Actor::spawn(Args&&... args) {
  return system().spawn_args<T>(cell_, std::forward<Args>(args)...);
}

template <class F>
  requires(!ActorClass<std::remove_cvref_t<F>>)
Ref<FunctionActor<std::decay_t<F>>> Actor::spawn(SpawnOptions options, F&& handler) {
  return spawn<FunctionActor<std::decay_t<F>>>(std::move(options), std::forward<F>(handler));
}

template <class Name, class F>
  requires(detail::SpawnName<Name> && !ActorClass<std::remove_cvref_t<F>>)
Ref<FunctionActor<std::decay_t<F>>> Actor::spawn(Name&& name, F&& handler) {
  return spawn(SpawnOptions{.name = std::string(std::string_view(name))},
               std::forward<F>(handler));
}

template <class F>
  requires(!ActorClass<std::remove_cvref_t<F>>)
Ref<FunctionActor<std::decay_t<F>>> Actor::spawn(F&& handler) {
  return spawn(SpawnOptions{}, std::forward<F>(handler));
}

}  // namespace troupe
