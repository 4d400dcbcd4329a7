// bench/savina/caf.cpp - the Savina workloads of savina-troupe on CAF 0.17 (Debian's
// libcaf-dev), written the way CAF's own examples write actors: function-based stateful
// actors, atoms to tag messages, `send` between actors, `request(...).then(...)` for a
// request-reply, a returned value as the reply. Same protocols and sizes as troupe.cpp.
//
// usage: savina-caf <workload> <scale> <workers>   (caf.scheduler.max-threads = workers)
// Prints "<workload> <ms>"; a wrong result exits 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using u64 = std::uint64_t;

using start_atom = caf::atom_constant<caf::atom("start")>;
using finished_atom = caf::atom_constant<caf::atom("finished")>;
using incr_atom = caf::atom_constant<caf::atom("incr")>;
using total_atom = caf::atom_constant<caf::atom("total")>;
using meet_atom = caf::atom_constant<caf::atom("meet")>;
using meetwith_atom = caf::atom_constant<caf::atom("meetwith")>;
using change_atom = caf::atom_constant<caf::atom("change")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using hungry_atom = caf::atom_constant<caf::atom("hungry")>;
using ate_atom = caf::atom_constant<caf::atom("ate")>;
using enter_atom = caf::atom_constant<caf::atom("enter")>;
using full_atom = caf::atom_constant<caf::atom("full")>;
using cut_atom = caf::atom_constant<caf::atom("cut")>;
using next_atom = caf::atom_constant<caf::atom("next")>;
using served_atom = caf::atom_constant<caf::atom("served")>;
using data_atom = caf::atom_constant<caf::atom("data")>;
using more_atom = caf::atom_constant<caf::atom("more")>;
using avail_atom = caf::atom_constant<caf::atom("avail")>;
using consume_atom = caf::atom_constant<caf::atom("consume")>;
using pdone_atom = caf::atom_constant<caf::atom("pdone")>;
using debit_atom = caf::atom_constant<caf::atom("debit")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;
using credited_atom = caf::atom_constant<caf::atom("credited")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using balance_atom = caf::atom_constant<caf::atom("balance")>;

[[noreturn]] void wrong(const std::string& what) {
  std::fprintf(stderr, "savina-caf: wrong result: %s\n", what.c_str());
  std::exit(1);
}

u64 scaled(double base, double scale) { return std::max<u64>(1, std::llround(base * scale)); }

struct Setup : caf::actor_system_config {
  explicit Setup(unsigned workers) { set("scheduler.max-threads", std::size_t{workers}); }
};

/// One run: the system, every actor it spawned (killed at the end) and the main thread's
/// answer.
struct Run {
  explicit Run(unsigned workers) : cfg(workers), sys(cfg) {}
  template <class... Ts>
  caf::actor spawn(Ts&&... xs) {
    actors.push_back(sys.spawn(std::forward<Ts>(xs)...));
    return actors.back();
  }
  u64 wait() {
    if (answer.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
      wrong("the run did not finish within 120 s");
    }
    u64 v = answer.get();
    ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return v;
  }
  ~Run() {
    for (auto& a : actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  void go() { start = Clock::now(); }

  Setup cfg;
  caf::actor_system sys;
  std::vector<caf::actor> actors;
  std::promise<u64> done;
  std::future<u64> answer = done.get_future();
  Clock::time_point start;
  double ms = 0;
};

struct Rng {
  u64 s;
  u64 next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

u64 busy(u64 seed, int n) {
  for (int i = 0; i < n; ++i) seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  return seed;
}

struct SinkState {
  u64 seen = 0, sum = 0;
};
caf::behavior sink_fn(caf::stateful_actor<SinkState>* self, u64 expected, std::promise<u64>* done) {
  return {[=](finished_atom, u64 count) {
    self->state.sum += count;
    if (++self->state.seen == expected) done->set_value(self->state.sum);
  }};
}

// -- counting ----------------------------------------------------------------------------

struct CounterState {
  u64 count = 0;
};
caf::behavior counter_fn(caf::stateful_actor<CounterState>* self) {
  return {[=](incr_atom) { ++self->state.count; }, [=](total_atom) { return self->state.count; }};
}

caf::behavior producer_fn(caf::event_based_actor* self, caf::actor counter, u64 n,
                          std::promise<u64>* done) {
  return {[=](start_atom) {
    for (u64 i = 0; i < n; ++i) self->send(counter, incr_atom::value);
    self->request(counter, caf::infinite, total_atom::value).then([=](u64 total) {
      done->set_value(total);
    });
  }};
}

double counting(double scale, unsigned workers) {
  const u64 n = scaled(1'000'000, scale);
  Run run(workers);
  auto counter = run.spawn(counter_fn);
  auto producer = run.spawn(producer_fn, counter, n, &run.done);
  run.go();
  caf::anon_send(producer, start_atom::value);
  u64 got = run.wait();
  if (got != n) wrong("counting: " + std::to_string(got));
  return run.ms;
}

// -- chameneos ---------------------------------------------------------------------------

int complement(int a, int b) { return a == b ? a : 3 - a - b; }

struct MallState {
  u64 left;
  caf::actor waiting;
};
caf::behavior mall_fn(caf::stateful_actor<MallState>* self, u64 meetings) {
  self->state.left = meetings;
  return {[=](meet_atom, caf::actor who, int colour) {
    auto& st = self->state;
    if (st.left == 0) {
      self->send(who, leave_atom::value);
    } else if (!st.waiting) {
      st.waiting = who;
    } else {
      --st.left;
      self->send(st.waiting, meetwith_atom::value, who, colour);
      st.waiting = caf::actor{};
    }
  }};
}

struct ChameneoState {
  int colour;
  u64 meetings = 0;
};
caf::behavior chameneo_fn(caf::stateful_actor<ChameneoState>* self, caf::actor mall,
                          caf::actor sink, int colour) {
  self->state.colour = colour;
  auto me = caf::actor_cast<caf::actor>(self);
  return {
      [=](start_atom) { self->send(mall, meet_atom::value, me, self->state.colour); },
      [=](meetwith_atom, caf::actor other, int c) {
        auto& st = self->state;
        st.colour = complement(st.colour, c);
        ++st.meetings;
        self->send(other, change_atom::value, st.colour);
        self->send(mall, meet_atom::value, me, st.colour);
      },
      [=](change_atom, int c) {
        self->state.colour = c;
        ++self->state.meetings;
        self->send(mall, meet_atom::value, me, c);
      },
      [=](leave_atom) {
        self->send(sink, finished_atom::value, self->state.meetings);
        self->quit();
      },
  };
}

double chameneos(double scale, unsigned workers) {
  const u64 n = scaled(200'000, scale);
  const unsigned creatures = 100;
  Run run(workers);
  auto sink = run.spawn(sink_fn, u64{creatures}, &run.done);
  auto mall = run.spawn(mall_fn, n);
  std::vector<caf::actor> all;
  for (unsigned i = 0; i < creatures; ++i)
    all.push_back(run.spawn(chameneo_fn, mall, sink, int(i % 3)));
  run.go();
  for (auto& c : all) caf::anon_send(c, start_atom::value);
  u64 got = run.wait();
  if (got != 2 * n) wrong("chameneos: " + std::to_string(got));
  return run.ms;
}

// -- big -----------------------------------------------------------------------------------

using Neighbours = std::shared_ptr<std::vector<caf::actor>>;

struct BigState {
  u64 left, pongs = 0;
  Rng rng;
};
caf::behavior big_fn(caf::stateful_actor<BigState>* self, int id, u64 pings, caf::actor sink,
                     Neighbours all) {
  self->state.left = pings;
  self->state.rng = Rng{static_cast<u64>(id) + 1};
  auto ping = [=] {
    auto& all_ = *all;
    self->send(all_[self->state.rng.below(static_cast<std::uint32_t>(all_.size()))],
               ping_atom::value, id);
  };
  return {
      [=](start_atom) { ping(); },
      [=](ping_atom, int from) { self->send((*all)[from], pong_atom::value); },
      [=](pong_atom) {
        auto& st = self->state;
        ++st.pongs;
        if (--st.left == 0) {
          self->send(sink, finished_atom::value, st.pongs);
        } else {
          ping();
        }
      },
  };
}

double big(double scale, unsigned workers) {
  const u64 pings = scaled(10'000, scale);
  const int n = 100;
  Run run(workers);
  auto sink = run.spawn(sink_fn, u64(n), &run.done);
  auto all = std::make_shared<std::vector<caf::actor>>();
  for (int i = 0; i < n; ++i) all->push_back(run.spawn(big_fn, i, pings, sink, all));
  run.go();
  for (auto& w : *all) caf::anon_send(w, start_atom::value);
  u64 got = run.wait();
  all->clear();  // the workers hold this vector: break the cycle
  if (got != n * pings) wrong("big: " + std::to_string(got));
  return run.ms;
}

// -- concdict ------------------------------------------------------------------------------

constexpr int kDictKeys = 10'000;

struct DictState {
  std::unordered_map<int, int> map;
};
caf::behavior dict_fn(caf::stateful_actor<DictState>* self) {
  for (int k = 0; k < kDictKeys; ++k) self->state.map[k] = 2 * k;
  return {
      [=](write_atom, int k, int v) { return self->state.map[k] = v; },
      [=](read_atom, int k) {
        auto it = self->state.map.find(k);
        return it == self->state.map.end() ? -1 : it->second;
      },
  };
}

struct DictWorkerState {
  Rng rng;
  u64 done = 0, good = 0;
};
void dict_next(caf::stateful_actor<DictWorkerState>* self, caf::actor dict, caf::actor sink,
               u64 ops) {
  auto& st = self->state;
  if (st.done == ops) {
    self->send(sink, finished_atom::value, st.good);
    return;
  }
  int key = static_cast<int>(st.rng.below(kDictKeys));
  auto then = [=](int v) {
    if (v == 2 * key) ++self->state.good;
    ++self->state.done;
    dict_next(self, dict, sink, ops);
  };
  if (st.done % 10 == 0) {
    self->request(dict, caf::infinite, write_atom::value, key, 2 * key).then(then);
  } else {
    self->request(dict, caf::infinite, read_atom::value, key).then(then);
  }
}
caf::behavior dict_worker_fn(caf::stateful_actor<DictWorkerState>* self, caf::actor dict,
                             caf::actor sink, int id, u64 ops) {
  self->state.rng = Rng{static_cast<u64>(id) + 1};
  return {[=](start_atom) { dict_next(self, dict, sink, ops); }};
}

double concdict(double scale, unsigned workers) {
  const u64 ops = scaled(10'000, scale);
  const int n = 20;
  Run run(workers);
  auto sink = run.spawn(sink_fn, u64(n), &run.done);
  auto dict = run.spawn(dict_fn);
  std::vector<caf::actor> all;
  for (int i = 0; i < n; ++i) all.push_back(run.spawn(dict_worker_fn, dict, sink, i, ops));
  run.go();
  for (auto& w : all) caf::anon_send(w, start_atom::value);
  u64 got = run.wait();
  if (got != n * ops) wrong("concdict: " + std::to_string(got));
  return run.ms;
}

// -- philosophers --------------------------------------------------------------------------

struct ArbitratorState {
  std::vector<bool> forks;
};
caf::behavior arbitrator_fn(caf::stateful_actor<ArbitratorState>* self, int seats) {
  self->state.forks.assign(seats, false);
  return {
      [=](hungry_atom, int seat) {
        auto& f = self->state.forks;
        std::size_t l = seat, r = (seat + 1) % f.size();
        if (f[l] || f[r]) return false;
        f[l] = f[r] = true;
        return true;
      },
      [=](ate_atom, int seat) {
        auto& f = self->state.forks;
        std::size_t l = seat, r = (seat + 1) % f.size();
        if (!f[l] || !f[r]) wrong("philosophers: a fork was put down twice");
        f[l] = f[r] = false;
      },
  };
}

struct PhilosopherState {
  u64 eaten = 0;
};
void hungry(caf::stateful_actor<PhilosopherState>* self, caf::actor arb, caf::actor sink, int seat,
            u64 meals) {
  self->request(arb, caf::infinite, hungry_atom::value, seat).then([=](bool ok) {
    if (ok) {
      ++self->state.eaten;
      self->send(arb, ate_atom::value, seat);
    }
    if (self->state.eaten == meals) {
      self->send(sink, finished_atom::value, meals);
    } else {
      hungry(self, arb, sink, seat, meals);
    }
  });
}
caf::behavior philosopher_fn(caf::stateful_actor<PhilosopherState>* self, caf::actor arb,
                             caf::actor sink, int seat, u64 meals) {
  return {[=](start_atom) { hungry(self, arb, sink, seat, meals); }};
}

double philosophers(double scale, unsigned workers) {
  const u64 meals = scaled(10'000, scale);
  const int n = 20;
  Run run(workers);
  auto sink = run.spawn(sink_fn, u64(n), &run.done);
  auto arb = run.spawn(arbitrator_fn, n);
  std::vector<caf::actor> all;
  for (int i = 0; i < n; ++i) all.push_back(run.spawn(philosopher_fn, arb, sink, i, meals));
  run.go();
  for (auto& p : all) caf::anon_send(p, start_atom::value);
  u64 got = run.wait();
  if (got != n * meals) wrong("philosophers: " + std::to_string(got));
  return run.ms;
}

// -- barber --------------------------------------------------------------------------------

struct CustomersState {
  std::vector<bool> served;
  u64 count = 0;
  std::deque<int> away;
  caf::actor room;
};
caf::behavior customers_fn(caf::stateful_actor<CustomersState>* self, int n,
                           std::promise<u64>* done) {
  self->state.served.assign(n, false);
  return {
      [=](start_atom, caf::actor room) {
        self->state.room = room;
        for (int i = 0; i < n; ++i) self->send(room, enter_atom::value, i);
      },
      [=](full_atom, int c) { self->state.away.push_back(c); },
      [=](served_atom, int c) {
        auto& st = self->state;
        if (st.served[c]) wrong("barber: a customer was served twice");
        st.served[c] = true;
        if (++st.count == st.served.size()) {
          done->set_value(st.count);
          return;
        }
        if (!st.away.empty()) {
          self->send(st.room, enter_atom::value, st.away.front());
          st.away.pop_front();
        }
      },
  };
}

struct RoomState {
  caf::actor barber;
  std::deque<int> waiting;
  bool asleep = true;
};
caf::behavior room_fn(caf::stateful_actor<RoomState>* self, caf::actor customers,
                      std::size_t chairs) {
  return {
      [=](caf::actor barber) { self->state.barber = barber; },
      [=](enter_atom, int c) {
        auto& st = self->state;
        if (st.asleep) {
          st.asleep = false;
          self->send(st.barber, cut_atom::value, c);
        } else if (st.waiting.size() < chairs) {
          st.waiting.push_back(c);
        } else {
          self->send(customers, full_atom::value, c);
        }
      },
      [=](next_atom) {
        auto& st = self->state;
        if (st.waiting.empty()) {
          st.asleep = true;
        } else {
          self->send(st.barber, cut_atom::value, st.waiting.front());
          st.waiting.pop_front();
        }
      },
  };
}

struct BarberState {
  u64 work = 0;
};
caf::behavior barber_fn(caf::stateful_actor<BarberState>* self, caf::actor room,
                        caf::actor customers) {
  return {[=](cut_atom, int c) {
    self->state.work += busy(static_cast<u64>(c), 100);
    self->send(room, next_atom::value);
    self->send(customers, served_atom::value, c);
  }};
}

double barber(double scale, unsigned workers) {
  const int n = static_cast<int>(scaled(20'000, scale));
  Run run(workers);
  auto customers = run.spawn(customers_fn, n, &run.done);
  auto room = run.spawn(room_fn, customers, std::size_t{100});
  auto shop = run.spawn(barber_fn, room, customers);
  caf::anon_send(room, shop);
  run.go();
  caf::anon_send(customers, start_atom::value, room);
  u64 got = run.wait();
  if (got != u64(n)) wrong("barber: " + std::to_string(got));
  return run.ms;
}

// -- bndbuffer -------------------------------------------------------------------------------

struct ManagerState {
  std::size_t producers;
  std::deque<u64> buffer;
  std::deque<caf::actor> idle, blocked;
  u64 sum = 0;
};
caf::behavior manager_fn(caf::stateful_actor<ManagerState>* self, std::size_t capacity,
                         std::size_t producers, std::size_t consumers, std::promise<u64>* done) {
  self->state.producers = producers;
  auto check_end = [=] {
    auto& st = self->state;
    if (st.producers == 0 && st.buffer.empty() && st.idle.size() == consumers)
      done->set_value(st.sum);
  };
  return {
      [=](data_atom, u64 item, caf::actor from) {
        auto& st = self->state;
        if (!st.idle.empty()) {
          self->send(st.idle.front(), consume_atom::value, item);
          st.idle.pop_front();
          self->send(from, more_atom::value);
          return;
        }
        st.buffer.push_back(item);
        if (st.buffer.size() < capacity) {
          self->send(from, more_atom::value);
        } else {
          st.blocked.push_back(from);
        }
      },
      [=](avail_atom, caf::actor consumer, u64 consumed) {
        auto& st = self->state;
        if (consumed != 0) st.sum += consumed - 1;
        if (st.buffer.empty()) {
          st.idle.push_back(consumer);
          check_end();
          return;
        }
        self->send(consumer, consume_atom::value, st.buffer.front());
        st.buffer.pop_front();
        if (!st.blocked.empty()) {
          self->send(st.blocked.front(), more_atom::value);
          st.blocked.pop_front();
        }
      },
      [=](pdone_atom) {
        --self->state.producers;
        check_end();
      },
  };
}

struct WorkState {
  u64 next = 0, work = 0;
};
caf::behavior buf_producer_fn(caf::stateful_actor<WorkState>* self, caf::actor manager, u64 first,
                              u64 count) {
  self->state.next = first;
  auto me = caf::actor_cast<caf::actor>(self);
  return {[=](more_atom) {
    auto& st = self->state;
    if (st.next == first + count) {
      self->send(manager, pdone_atom::value);
      self->quit();
      return;
    }
    st.work += busy(st.next, 100);
    self->send(manager, data_atom::value, st.next++, me);
  }};
}

caf::behavior buf_consumer_fn(caf::stateful_actor<WorkState>* self, caf::actor manager) {
  auto me = caf::actor_cast<caf::actor>(self);
  return {
      [=](start_atom) { self->send(manager, avail_atom::value, me, u64{0}); },
      [=](consume_atom, u64 item) {
        self->state.work += busy(item, 100);
        self->send(manager, avail_atom::value, me, item + 1);
      },
  };
}

double bndbuffer(double scale, unsigned workers) {
  const u64 per = scaled(5'000, scale);
  const std::size_t producers = 40, consumers = 40, capacity = 50;
  Run run(workers);
  auto manager = run.spawn(manager_fn, capacity, producers, consumers, &run.done);
  std::vector<caf::actor> ps, cs;
  for (std::size_t i = 0; i < producers; ++i)
    ps.push_back(run.spawn(buf_producer_fn, manager, i * per, per));
  for (std::size_t i = 0; i < consumers; ++i) cs.push_back(run.spawn(buf_consumer_fn, manager));
  run.go();
  for (auto& c : cs) caf::anon_send(c, start_atom::value);
  for (auto& p : ps) caf::anon_send(p, more_atom::value);
  u64 got = run.wait();
  u64 total = producers * per;
  if (got != total * (total - 1) / 2) wrong("bndbuffer: " + std::to_string(got));
  return run.ms;
}

// -- banking -------------------------------------------------------------------------------

struct AccountState {
  std::int64_t balance = 1'000'000;
};
caf::behavior account_fn(caf::stateful_actor<AccountState>* self, caf::actor teller) {
  auto me = caf::actor_cast<caf::actor>(self);
  return {
      [=](debit_atom, caf::actor to, std::int64_t amount) {
        self->state.balance -= amount;
        self->send(to, credit_atom::value, me, amount);
      },
      [=](credit_atom, caf::actor from, std::int64_t amount) {
        self->state.balance += amount;
        self->send(from, credited_atom::value);
      },
      [=](credited_atom) { self->send(teller, done_atom::value); },
      [=](balance_atom) { return self->state.balance; },
  };
}

struct TellerState {
  std::vector<caf::actor> accounts;
  u64 left, window, completed = 0;
  Rng rng{42};
};
caf::behavior teller_fn(caf::stateful_actor<TellerState>* self, u64 transfers, u64 window,
                        std::promise<u64>* done) {
  self->state.left = transfers;
  self->state.window = window;
  auto transfer = [=] {
    auto& st = self->state;
    auto n = static_cast<std::uint32_t>(st.accounts.size());
    std::uint32_t from = st.rng.below(n), to = st.rng.below(n);
    self->send(st.accounts[from], debit_atom::value, st.accounts[to],
               std::int64_t(st.rng.below(1000)));
  };
  return {
      [=](std::vector<caf::actor> accounts) {
        auto& st = self->state;
        st.accounts = std::move(accounts);
        for (u64 i = 0; i < st.window && st.left > 0; ++i, --st.left) transfer();
      },
      [=](done_atom) {
        auto& st = self->state;
        ++st.completed;
        if (st.left > 0) {
          --st.left;
          transfer();
        } else if (--st.window == 0) {
          done->set_value(st.completed);
        }
      },
  };
}

double banking(double scale, unsigned workers) {
  const u64 n = scaled(100'000, scale);
  const std::size_t accounts = 1000;
  const u64 window = std::min<u64>(200, n);
  Run run(workers);
  auto teller = run.spawn(teller_fn, n, window, &run.done);
  std::vector<caf::actor> all;
  for (std::size_t i = 0; i < accounts; ++i) all.push_back(run.spawn(account_fn, teller));
  run.go();
  caf::anon_send(teller, all);
  u64 got = run.wait();
  if (got != n) wrong("banking: " + std::to_string(got));
  std::int64_t total = 0;
  caf::scoped_actor me{run.sys};
  for (auto& a : all) {
    me->request(a, caf::infinite, balance_atom::value)
        .receive([&](std::int64_t b) { total += b; },
                 [&](caf::error&) { wrong("banking: an account did not answer"); });
  }
  if (total != std::int64_t(accounts) * 1'000'000) wrong("banking: money was made or lost");
  return run.ms;
}

struct Workload {
  const char* name;
  double (*run)(double scale, unsigned workers);
};

constexpr Workload kWorkloads[] = {
    {"counting", counting},   {"chameneos", chameneos},       {"big", big},
    {"concdict", concdict},   {"philosophers", philosophers}, {"barber", barber},
    {"bndbuffer", bndbuffer}, {"banking", banking},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: savina-caf <workload> <scale> <workers>\n");
    return 2;
  }
  std::string name = argv[1];
  for (const auto& w : kWorkloads) {
    if (name == w.name) {
      double ms = w.run(std::atof(argv[2]), static_cast<unsigned>(std::atoi(argv[3])));
      std::printf("%s %.3f\n", w.name, ms);
      return 0;
    }
  }
  std::fprintf(stderr, "savina-caf: no workload %s\n", name.c_str());
  return 2;
}
