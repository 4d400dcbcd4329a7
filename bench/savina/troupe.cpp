// bench/savina/troupe.cpp - Savina workloads on troupe, written the way a troupe user would.
//
// `savina-troupe <workload> <scale> <workers>` runs one workload once in this process,
// checks its result (a wrong one exits 1) and prints `<workload> <ms>` on stdout. The
// clock starts at the first message and stops when the main thread has the answer; spawning
// and teardown are not timed. The same protocols are written for CAF (caf.cpp), Go
// (savina.go) and Erlang (savina.erl); the sizes here are the sizes there.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <troupe/troupe.hpp>
#include <troupe/work_queue.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using troupe::Ref;

[[noreturn]] void wrong(const std::string& what) {
  std::fprintf(stderr, "savina-troupe: wrong result: %s\n", what.c_str());
  std::exit(1);
}

/// The answer of `future`; a run that takes longer than two minutes is a failed run.
template <class R>
R await(const troupe::Future<R>& future) {
  try {
    return future.get(std::chrono::seconds(120));
  } catch (const troupe::TimeoutError&) {
    wrong("the run did not finish within 120 s");
  }
}

/// A small deterministic generator (the same xorshift in every language).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

/// Savina's stand-in for real work in a handler: `n` rounds of an LCG.
std::uint64_t busy(std::uint64_t seed, int n) {
  for (int i = 0; i < n; ++i) seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  return seed;
}

struct Start {};
struct Finished {
  std::uint64_t count;
};

/// Counts Finished reports from `expected` actors and answers the main thread with the sum.
class Sink : public troupe::Actor {
 public:
  Sink(std::uint64_t expected, troupe::Promise<std::uint64_t> done)
      : expected_(expected), done_(std::move(done)) {}
  void on(const Finished& f) {
    sum_ += f.count;
    if (++seen_ == expected_) done_.set_value(sum_);
  }

 private:
  std::uint64_t expected_;
  std::uint64_t seen_ = 0;
  std::uint64_t sum_ = 0;
  troupe::Promise<std::uint64_t> done_;
};

// -- counting: one producer, one counter, then a request for the total ---------------------

struct Increment {};
struct Total {};

class Counter : public troupe::Actor {
 public:
  void on(const Increment&) { ++count_; }
  std::uint64_t on(const Total&) { return count_; }

 private:
  std::uint64_t count_ = 0;
};

class Producer : public troupe::Actor {
 public:
  Producer(Ref<Counter> counter, std::uint64_t n, troupe::Promise<std::uint64_t> done)
      : counter_(std::move(counter)), n_(n), done_(std::move(done)) {}
  troupe::Task<void> on(const Start&) {
    for (std::uint64_t i = 0; i < n_; ++i) counter_.tell(Increment{});
    done_.set_value(co_await counter_.ask(Total{}));
  }

 private:
  Ref<Counter> counter_;
  std::uint64_t n_;
  troupe::Promise<std::uint64_t> done_;
};

double counting(double scale, unsigned workers) {
  const std::uint64_t n = std::max<std::uint64_t>(1, std::llround(1'000'000 * scale));
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto counter = system.spawn<Counter>();
  auto producer = system.spawn<Producer>(troupe::SpawnOptions{}, counter, n, std::move(done));
  auto start = Clock::now();
  producer.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n) wrong("counting: the counter saw " + std::to_string(got));
  return ms;
}

// -- chameneos: creatures meet in pairs at a mall and change colours ----------------------

class Chameneo;

struct Meet {
  Ref<Chameneo> who;
  int colour;
};
struct MeetWith {
  Ref<Chameneo> other;
  int colour;
};
struct Change {
  int colour;
};
struct Leave {};

int complement(int a, int b) { return a == b ? a : 3 - a - b; }

class Mall : public troupe::Actor {
 public:
  Mall(std::uint64_t meetings, Ref<Sink> sink) : left_(meetings), sink_(std::move(sink)) {}
  void on(const Meet& m) {
    if (left_ == 0) {
      m.who.tell(Leave{});
    } else if (!waiting_) {
      waiting_ = m.who;
    } else {
      --left_;
      waiting_.tell(MeetWith{m.who, m.colour});
      waiting_ = {};
    }
  }

 private:
  std::uint64_t left_;
  Ref<Sink> sink_;
  Ref<Chameneo> waiting_;
};

class Chameneo : public troupe::Actor {
 public:
  Chameneo(Ref<Mall> mall, Ref<Sink> sink, int colour)
      : mall_(std::move(mall)), sink_(std::move(sink)), colour_(colour) {}
  void on(const Start&) { mall_.tell(Meet{self<Chameneo>(), colour_}); }
  void on(const MeetWith& m) {
    colour_ = complement(colour_, m.colour);
    ++meetings_;
    m.other.tell(Change{colour_});
    mall_.tell(Meet{self<Chameneo>(), colour_});
  }
  void on(const Change& c) {
    colour_ = c.colour;
    ++meetings_;
    mall_.tell(Meet{self<Chameneo>(), colour_});
  }
  void on(const Leave&) {
    sink_.tell(Finished{meetings_});
    stop();
  }

 private:
  Ref<Mall> mall_;
  Ref<Sink> sink_;
  int colour_;
  std::uint64_t meetings_ = 0;
};

double chameneos(double scale, unsigned workers) {
  const std::uint64_t n = std::max<std::uint64_t>(1, std::llround(200'000 * scale));
  const unsigned creatures = 100;
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto sink = system.spawn<Sink>(troupe::SpawnOptions{}, std::uint64_t{creatures}, std::move(done));
  auto mall = system.spawn<Mall>(troupe::SpawnOptions{}, n, sink);
  std::vector<Ref<Chameneo>> all;
  for (unsigned i = 0; i < creatures; ++i) {
    all.push_back(system.spawn<Chameneo>(troupe::SpawnOptions{}, mall, sink, int(i % 3)));
  }
  auto start = Clock::now();
  for (auto& c : all) c.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != 2 * n) wrong("chameneos: " + std::to_string(got) + " meetings counted twice");
  return ms;
}

// -- big: every worker pings random neighbours and waits for each pong --------------------

class BigWorker;

struct Ping {
  std::uint32_t from;
};
struct Pong {};
struct Neighbours {
  std::shared_ptr<const std::vector<Ref<BigWorker>>> all;
};

class BigWorker : public troupe::Actor {
 public:
  BigWorker(std::uint32_t id, std::uint64_t pings, Ref<Sink> sink)
      : id_(id), left_(pings), sink_(std::move(sink)), rng_{id + 1u} {}
  void on(const Neighbours& n) { all_ = n.all; }
  void on(const Start&) { ping(); }
  void on(const Ping& p) { (*all_)[p.from].tell(Pong{}); }
  void on(const Pong&) {
    ++pongs_;
    if (--left_ == 0) {
      sink_.tell(Finished{pongs_});
    } else {
      ping();
    }
  }

 private:
  void ping() { (*all_)[rng_.below(static_cast<std::uint32_t>(all_->size()))].tell(Ping{id_}); }

  std::uint32_t id_;
  std::uint64_t left_;
  std::uint64_t pongs_ = 0;
  Ref<Sink> sink_;
  Rng rng_;
  std::shared_ptr<const std::vector<Ref<BigWorker>>> all_;
};

double big(double scale, unsigned workers) {
  const std::uint64_t pings = std::max<std::uint64_t>(1, std::llround(10'000 * scale));
  const std::uint32_t n = 100;
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto sink = system.spawn<Sink>(troupe::SpawnOptions{}, std::uint64_t{n}, std::move(done));
  auto all = std::make_shared<std::vector<Ref<BigWorker>>>();
  for (std::uint32_t i = 0; i < n; ++i) {
    all->push_back(system.spawn<BigWorker>(troupe::SpawnOptions{}, i, pings, sink));
  }
  for (auto& w : *all) w.tell(Neighbours{all});
  auto start = Clock::now();
  for (auto& w : *all) w.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n * pings) wrong("big: " + std::to_string(got) + " pongs");
  return ms;
}

// -- concdict: workers ask one dictionary actor, 10 % writes, 90 % reads -------------------

constexpr int kDictKeys = 10'000;

struct Write {
  int key;
  int value;
};
struct Read {
  int key;
};

class Dictionary : public troupe::Actor {
 public:
  Dictionary() {
    for (int k = 0; k < kDictKeys; ++k) map_[k] = 2 * k;
  }
  int on(const Write& w) { return map_[w.key] = w.value; }
  int on(const Read& r) {
    auto it = map_.find(r.key);
    return it == map_.end() ? -1 : it->second;
  }

 private:
  std::unordered_map<int, int> map_;
};

class DictWorker : public troupe::Actor {
 public:
  DictWorker(Ref<Dictionary> dict, Ref<Sink> sink, std::uint32_t id, std::uint64_t ops)
      : dict_(std::move(dict)), sink_(std::move(sink)), rng_{id + 1u}, ops_(ops) {}
  troupe::Task<void> on(const Start&) {
    std::uint64_t good = 0;
    for (std::uint64_t i = 0; i < ops_; ++i) {
      int key = static_cast<int>(rng_.below(kDictKeys));
      int got =
          i % 10 == 0 ? co_await dict_.ask(Write{key, 2 * key}) : co_await dict_.ask(Read{key});
      if (got == 2 * key) ++good;
    }
    sink_.tell(Finished{good});
  }

 private:
  Ref<Dictionary> dict_;
  Ref<Sink> sink_;
  Rng rng_;
  std::uint64_t ops_;
};

double concdict(double scale, unsigned workers) {
  const std::uint64_t ops = std::max<std::uint64_t>(1, std::llround(10'000 * scale));
  const std::uint32_t n = 20;
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto sink = system.spawn<Sink>(troupe::SpawnOptions{}, std::uint64_t{n}, std::move(done));
  auto dict = system.spawn<Dictionary>();
  std::vector<Ref<DictWorker>> all;
  for (std::uint32_t i = 0; i < n; ++i) {
    all.push_back(system.spawn<DictWorker>(troupe::SpawnOptions{}, dict, sink, i, ops));
  }
  auto start = Clock::now();
  for (auto& w : all) w.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n * ops) wrong("concdict: " + std::to_string(got) + " right answers");
  return ms;
}

// -- concdict-tell: the same protocol with one-way messages, to tell the ask's cost apart ---
//
// Not a Savina workload of its own and not in run.py's table: the worker names itself in
// the request and the dictionary tells it the answer, as Go's and Erlang's versions do.

class TellWorker;

struct TellWrite {
  int key;
  int value;
  Ref<TellWorker> from;
};
struct TellRead {
  int key;
  Ref<TellWorker> from;
};
struct Answer {
  int value;
};

class TellDictionary : public troupe::Actor {
 public:
  TellDictionary() {
    for (int k = 0; k < kDictKeys; ++k) map_[k] = 2 * k;
  }
  void on(const TellWrite& w);
  void on(const TellRead& r);

 private:
  std::unordered_map<int, int> map_;
};

class TellWorker : public troupe::Actor {
 public:
  TellWorker(Ref<TellDictionary> dict, Ref<Sink> sink, std::uint32_t id, std::uint64_t ops)
      : dict_(std::move(dict)), sink_(std::move(sink)), rng_{id + 1u}, ops_(ops) {}
  void on(const Start&) { request(); }
  void on(const Answer& a) {
    if (a.value == 2 * key_) ++good_;
    if (++done_ == ops_) {
      sink_.tell(Finished{good_});
    } else {
      request();
    }
  }

 private:
  void request() {
    key_ = static_cast<int>(rng_.below(kDictKeys));
    if (done_ % 10 == 0) {
      dict_.tell(TellWrite{key_, 2 * key_, self<TellWorker>()});
    } else {
      dict_.tell(TellRead{key_, self<TellWorker>()});
    }
  }

  Ref<TellDictionary> dict_;
  Ref<Sink> sink_;
  Rng rng_;
  std::uint64_t ops_;
  std::uint64_t done_ = 0, good_ = 0;
  int key_ = 0;
};

void TellDictionary::on(const TellWrite& w) { w.from.tell(Answer{map_[w.key] = w.value}); }
void TellDictionary::on(const TellRead& r) {
  auto it = map_.find(r.key);
  r.from.tell(Answer{it == map_.end() ? -1 : it->second});
}

double concdict_tell(double scale, unsigned workers) {
  const std::uint64_t ops = std::max<std::uint64_t>(1, std::llround(10'000 * scale));
  const std::uint32_t n = 20;
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto sink = system.spawn<Sink>(troupe::SpawnOptions{}, std::uint64_t{n}, std::move(done));
  auto dict = system.spawn<TellDictionary>();
  std::vector<Ref<TellWorker>> all;
  for (std::uint32_t i = 0; i < n; ++i) {
    all.push_back(system.spawn<TellWorker>(troupe::SpawnOptions{}, dict, sink, i, ops));
  }
  auto start = Clock::now();
  for (auto& w : all) w.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n * ops) wrong("concdict-tell: " + std::to_string(got) + " right answers");
  return ms;
}

// -- philosophers: an arbitrator hands out both forks or none ------------------------------

struct Hungry {
  std::uint32_t seat;
};
struct Ate {
  std::uint32_t seat;
};

class Arbitrator : public troupe::Actor {
 public:
  explicit Arbitrator(std::uint32_t seats) : forks_(seats, false) {}
  bool on(const Hungry& h) {
    std::size_t left = h.seat, right = (h.seat + 1) % forks_.size();
    if (forks_[left] || forks_[right]) return false;
    forks_[left] = forks_[right] = true;
    return true;
  }
  void on(const Ate& a) {
    std::size_t left = a.seat, right = (a.seat + 1) % forks_.size();
    if (!forks_[left] || !forks_[right]) wrong("philosophers: a fork was put down twice");
    forks_[left] = forks_[right] = false;
  }

 private:
  std::vector<bool> forks_;
};

class Philosopher : public troupe::Actor {
 public:
  Philosopher(Ref<Arbitrator> arbitrator, Ref<Sink> sink, std::uint32_t seat, std::uint64_t meals)
      : arbitrator_(std::move(arbitrator)), sink_(std::move(sink)), seat_(seat), meals_(meals) {}
  troupe::Task<void> on(const Start&) {
    std::uint64_t eaten = 0;
    while (eaten < meals_) {
      if (co_await arbitrator_.ask(Hungry{seat_})) {
        ++eaten;
        arbitrator_.tell(Ate{seat_});
      }
    }
    sink_.tell(Finished{eaten});
  }

 private:
  Ref<Arbitrator> arbitrator_;
  Ref<Sink> sink_;
  std::uint32_t seat_;
  std::uint64_t meals_;
};

double philosophers(double scale, unsigned workers) {
  const std::uint64_t meals = std::max<std::uint64_t>(1, std::llround(10'000 * scale));
  const std::uint32_t n = 20;
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto sink = system.spawn<Sink>(troupe::SpawnOptions{}, std::uint64_t{n}, std::move(done));
  auto arbitrator = system.spawn<Arbitrator>(troupe::SpawnOptions{}, n);
  std::vector<Ref<Philosopher>> all;
  for (std::uint32_t i = 0; i < n; ++i) {
    all.push_back(system.spawn<Philosopher>(troupe::SpawnOptions{}, arbitrator, sink, i, meals));
  }
  auto start = Clock::now();
  for (auto& p : all) p.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n * meals) wrong("philosophers: " + std::to_string(got) + " meals");
  return ms;
}

// -- barber: a waiting room with a few chairs; turned-away customers come back later -------

class Barber;
class Customers;

struct Enter {
  std::uint32_t customer;
};
struct Full {
  std::uint32_t customer;
};
struct Cut {
  std::uint32_t customer;
};
struct Next {};
struct Served {
  std::uint32_t customer;
};
struct Hire {
  Ref<Barber> barber;
};
class Room;
struct Open {
  Ref<Room> room;
};

class Customers : public troupe::Actor {  // Savina's customer factory
 public:
  Customers(std::uint32_t n, troupe::Promise<std::uint64_t> done)
      : served_(n, false), done_(std::move(done)) {}
  void on(const Open& o);
  void on(const Full& f) { turned_away_.push_back(f.customer); }
  void on(const Served& s);

 private:
  std::vector<bool> served_;
  std::uint64_t count_ = 0;
  std::deque<std::uint32_t> turned_away_;
  Ref<Room> room_;
  troupe::Promise<std::uint64_t> done_;
};

class Room : public troupe::Actor {
 public:
  Room(std::size_t chairs, Ref<Customers> customers)
      : chairs_(chairs), customers_(std::move(customers)) {}
  void on(const Hire& h) { barber_ = h.barber; }
  void on(const Enter& e);
  void on(const Next&);

 private:
  std::size_t chairs_;
  Ref<Customers> customers_;
  Ref<Barber> barber_;
  std::deque<std::uint32_t> waiting_;
  bool asleep_ = true;
};

class Barber : public troupe::Actor {
 public:
  Barber(Ref<Room> room, Ref<Customers> customers)
      : room_(std::move(room)), customers_(std::move(customers)) {}
  void on(const Cut& c) {
    work_ += busy(c.customer, 100);  // the haircut
    room_.tell(Next{});
    customers_.tell(Served{c.customer});
  }

 private:
  Ref<Room> room_;
  Ref<Customers> customers_;
  std::uint64_t work_ = 0;
};

void Customers::on(const Open& o) {
  room_ = o.room;
  for (std::uint32_t i = 0; i < served_.size(); ++i) room_.tell(Enter{i});
}

void Customers::on(const Served& s) {
  if (served_[s.customer]) wrong("barber: a customer was served twice");
  served_[s.customer] = true;
  if (++count_ == served_.size()) {
    done_.set_value(count_);
    return;
  }
  if (!turned_away_.empty()) {  // a chair is free: one who was turned away comes back
    room_.tell(Enter{turned_away_.front()});
    turned_away_.pop_front();
  }
}

void Room::on(const Enter& e) {
  if (asleep_) {
    asleep_ = false;
    barber_.tell(Cut{e.customer});
  } else if (waiting_.size() < chairs_) {
    waiting_.push_back(e.customer);
  } else {
    customers_.tell(Full{e.customer});
  }
}

void Room::on(const Next&) {
  if (waiting_.empty()) {
    asleep_ = true;
  } else {
    barber_.tell(Cut{waiting_.front()});
    waiting_.pop_front();
  }
}

double barber(double scale, unsigned workers) {
  const std::uint32_t n = static_cast<std::uint32_t>(std::max(1L, std::lround(20'000 * scale)));
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto customers = system.spawn<Customers>(troupe::SpawnOptions{}, n, std::move(done));
  auto room = system.spawn<Room>(troupe::SpawnOptions{}, std::size_t{100}, customers);
  auto shop = system.spawn<Barber>(troupe::SpawnOptions{}, room, customers);
  room.tell(Hire{shop});
  auto start = Clock::now();
  customers.tell(Open{room});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n) wrong("barber: " + std::to_string(got) + " served");
  return ms;
}

// -- bndbuffer: producers and consumers through a buffer manager of fixed capacity --------

class BufProducer;
class BufConsumer;

struct Data {
  std::uint64_t item;
  Ref<BufProducer> from;
};
struct ProduceMore {};
struct Available {
  Ref<BufConsumer> consumer;
  std::uint64_t consumed;  // the item just consumed, plus one (0: none yet)
};
struct Consume {
  std::uint64_t item;
};
struct ProducerDone {};

class Manager : public troupe::Actor {
 public:
  Manager(std::size_t capacity, std::size_t producers, std::size_t consumers,
          troupe::Promise<std::uint64_t> done)
      : capacity_(capacity), producers_(producers), consumers_(consumers), done_(std::move(done)) {}
  void on(const Data& d);
  void on(const Available& a);
  void on(const ProducerDone&) {
    --producers_;
    check_end();
  }

 private:
  void check_end() {
    if (producers_ == 0 && buffer_.empty() && idle_.size() == consumers_) done_.set_value(sum_);
  }

  std::size_t capacity_, producers_, consumers_;
  std::deque<std::uint64_t> buffer_;
  std::deque<Ref<BufConsumer>> idle_;
  std::deque<Ref<BufProducer>> blocked_;
  std::uint64_t sum_ = 0;
  troupe::Promise<std::uint64_t> done_;
};

class BufProducer : public troupe::Actor {
 public:
  BufProducer(Ref<Manager> manager, std::uint64_t first, std::uint64_t count)
      : manager_(std::move(manager)), next_(first), end_(first + count) {}
  void on(const ProduceMore&) {
    if (next_ == end_) {
      manager_.tell(ProducerDone{});
      stop();
      return;
    }
    work_ += busy(next_, 100);  // producing the item
    manager_.tell(Data{next_++, self<BufProducer>()});
  }

 private:
  Ref<Manager> manager_;
  std::uint64_t next_, end_;
  std::uint64_t work_ = 0;
};

class BufConsumer : public troupe::Actor {
 public:
  explicit BufConsumer(Ref<Manager> manager) : manager_(std::move(manager)) {}
  void on(const Start&) { manager_.tell(Available{self<BufConsumer>(), 0}); }
  void on(const Consume& c) {
    work_ += busy(c.item, 100);  // consuming it
    manager_.tell(Available{self<BufConsumer>(), c.item + 1});
  }

 private:
  Ref<Manager> manager_;
  std::uint64_t work_ = 0;
};

void Manager::on(const Data& d) {
  if (!idle_.empty()) {
    idle_.front().tell(Consume{d.item});
    idle_.pop_front();
    d.from.tell(ProduceMore{});
    return;
  }
  buffer_.push_back(d.item);
  if (buffer_.size() < capacity_) {
    d.from.tell(ProduceMore{});
  } else {
    blocked_.push_back(d.from);
  }
}

void Manager::on(const Available& a) {
  if (a.consumed != 0) sum_ += a.consumed - 1;
  if (buffer_.empty()) {
    idle_.push_back(a.consumer);
    check_end();
    return;
  }
  a.consumer.tell(Consume{buffer_.front()});
  buffer_.pop_front();
  if (!blocked_.empty()) {
    blocked_.front().tell(ProduceMore{});
    blocked_.pop_front();
  }
}

double bndbuffer(double scale, unsigned workers) {
  const std::uint64_t per = std::max<std::uint64_t>(1, std::llround(5'000 * scale));
  const std::size_t producers = 40, consumers = 40, capacity = 50;
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto manager = system.spawn<Manager>(troupe::SpawnOptions{}, capacity, producers, consumers,
                                       std::move(done));
  std::vector<Ref<BufProducer>> ps;
  std::vector<Ref<BufConsumer>> cs;
  for (std::size_t i = 0; i < producers; ++i) {
    ps.push_back(system.spawn<BufProducer>(troupe::SpawnOptions{}, manager, i * per, per));
  }
  for (std::size_t i = 0; i < consumers; ++i) cs.push_back(system.spawn<BufConsumer>(manager));
  auto start = Clock::now();
  for (auto& c : cs) c.tell(Start{});
  for (auto& p : ps) p.tell(ProduceMore{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::uint64_t total = producers * per;
  if (got != total * (total - 1) / 2)
    wrong("bndbuffer: the consumed items sum to " + std::to_string(got));
  return ms;
}

// -- bndbuffer-queue: the same buffer as troupe's own bounded queue -------------------------
//
// Go's bndbuffer is Go's own bounded buffer, a buffered channel; this is troupe's: a
// WorkQueue of capacity 50 that producer actors `co_await put` into and consumer actors
// `co_await get` from (no manager actor of our own). The last producer to finish puts one
// end marker per consumer, as Go closes its channel.

constexpr std::uint64_t kEndOfItems = ~std::uint64_t{0};

struct QueueRun {
  QueueRun(troupe::System& system, std::size_t capacity, std::size_t producers,
           std::size_t consumers_)
      : queue(system, {.capacity = capacity}),
        producers_left(producers),
        consumers_left(consumers_),
        consumers(consumers_) {}
  troupe::WorkQueue<std::uint64_t> queue;
  std::atomic<std::size_t> producers_left;
  std::atomic<std::size_t> consumers_left;
  std::atomic<std::uint64_t> sum{0};
  troupe::Promise<std::uint64_t> done;
  std::size_t consumers;
};

class QueueProducer : public troupe::Actor {
 public:
  QueueProducer(std::shared_ptr<QueueRun> run, std::uint64_t first, std::uint64_t count)
      : run_(std::move(run)), first_(first), count_(count) {}
  troupe::Task<void> on(const Start&) {
    std::uint64_t work = 0;
    for (std::uint64_t i = first_; i < first_ + count_; ++i) {
      work += busy(i, 100);  // producing the item
      co_await run_->queue.put(i);
    }
    if (work == 1) wrong("bndbuffer-queue: impossible work");  // keeps the work
    if (run_->producers_left.fetch_sub(1) == 1) {
      for (std::size_t c = 0; c < run_->consumers; ++c) co_await run_->queue.put(kEndOfItems);
    }
    stop();
  }

 private:
  std::shared_ptr<QueueRun> run_;
  std::uint64_t first_, count_;
};

class QueueConsumer : public troupe::Actor {
 public:
  explicit QueueConsumer(std::shared_ptr<QueueRun> run) : run_(std::move(run)) {}
  troupe::Task<void> on(const Start&) {
    std::uint64_t sum = 0, work = 0;
    for (;;) {
      std::uint64_t item = co_await run_->queue.get();
      if (item == kEndOfItems) break;
      work += busy(item, 100);  // consuming it
      sum += item;
    }
    if (work == 1) ++sum;
    run_->sum.fetch_add(sum);
    if (run_->consumers_left.fetch_sub(1) == 1) run_->done.set_value(run_->sum.load());
    stop();
  }

 private:
  std::shared_ptr<QueueRun> run_;
};

double bndbuffer_queue(double scale, unsigned workers) {
  const std::uint64_t per = std::max<std::uint64_t>(1, std::llround(5'000 * scale));
  const std::size_t producers = 40, consumers = 40, capacity = 50;
  troupe::System system({.workers = workers});
  auto run = std::make_shared<QueueRun>(system, capacity, producers, consumers);
  auto result = run->done.future();
  std::vector<Ref<QueueProducer>> ps;
  std::vector<Ref<QueueConsumer>> cs;
  for (std::size_t i = 0; i < producers; ++i) {
    ps.push_back(system.spawn<QueueProducer>(troupe::SpawnOptions{}, run, i * per, per));
  }
  for (std::size_t i = 0; i < consumers; ++i) cs.push_back(system.spawn<QueueConsumer>(run));
  auto start = Clock::now();
  for (auto& c : cs) c.tell(Start{});
  for (auto& p : ps) p.tell(Start{});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::uint64_t total = producers * per;
  if (got != total * (total - 1) / 2)
    wrong("bndbuffer-queue: the consumed items sum to " + std::to_string(got));
  return ms;
}

// -- banking: a teller moves money between accounts, a window of transfers at a time ------
//
// One-way messages: teller -> source (Debit), source -> destination (Credit), destination
// -> source (Credited), source -> teller (Done). (Written first with `co_await ask` from a
// Task handler in the teller and in the source account; that version crashed, see
// bench/README.md, "Savina".)

class Account;
class Teller;

struct Debit {
  Ref<Account> to;
  std::int64_t amount;
};
struct Credit {
  Ref<Account> from;
  std::int64_t amount;
};
struct Credited {};
struct Done {};
struct Balance {};

class Account : public troupe::Actor {
 public:
  explicit Account(Ref<Teller> teller) : teller_(std::move(teller)) {}
  void on(const Debit& d) {
    balance_ -= d.amount;
    d.to.tell(Credit{self<Account>(), d.amount});
  }
  void on(const Credit& c) {
    balance_ += c.amount;
    c.from.tell(Credited{});
  }
  void on(const Credited&);
  std::int64_t on(const Balance&) { return balance_; }

 private:
  Ref<Teller> teller_;
  std::int64_t balance_ = 1'000'000;
};

struct Accounts {
  std::vector<Ref<Account>> all;
};

class Teller : public troupe::Actor {
 public:
  Teller(std::uint64_t transfers, std::uint64_t window, troupe::Promise<std::uint64_t> done)
      : left_(transfers), window_(window), done_(std::move(done)) {}
  void on(const Accounts& a) {
    accounts_ = a.all;
    for (std::uint64_t i = 0; i < window_ && left_ > 0; ++i, --left_) transfer();
  }
  void on(const Done&) {
    ++completed_;
    if (left_ > 0) {
      --left_;
      transfer();
    } else if (--window_ == 0) {
      done_.set_value(completed_);
    }
  }

 private:
  void transfer() {
    auto n = static_cast<std::uint32_t>(accounts_.size());
    std::uint32_t from = rng_.below(n), to = rng_.below(n);
    accounts_[from].tell(Debit{accounts_[to], std::int64_t(rng_.below(1000))});
  }

  std::vector<Ref<Account>> accounts_;
  std::uint64_t left_, window_;
  std::uint64_t completed_ = 0;
  Rng rng_{42};
  troupe::Promise<std::uint64_t> done_;
};

void Account::on(const Credited&) { teller_.tell(Done{}); }

double banking(double scale, unsigned workers) {
  const std::uint64_t n = std::max<std::uint64_t>(1, std::llround(100'000 * scale));
  const std::size_t accounts = 1000;
  const std::uint64_t window = std::min<std::uint64_t>(200, n);
  troupe::System system({.workers = workers});
  troupe::Promise<std::uint64_t> done;
  auto result = done.future();
  auto teller = system.spawn<Teller>(troupe::SpawnOptions{}, n, window, std::move(done));
  std::vector<Ref<Account>> all;
  for (std::size_t i = 0; i < accounts; ++i) all.push_back(system.spawn<Account>(teller));
  auto start = Clock::now();
  teller.tell(Accounts{all});
  std::uint64_t got = await(result);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (got != n) wrong("banking: " + std::to_string(got) + " transfers completed");
  std::int64_t total = 0;
  for (auto& a : all) total += await(a.ask(Balance{}));
  if (total != std::int64_t(accounts) * 1'000'000) wrong("banking: money was made or lost");
  return ms;
}
struct Workload {
  const char* name;
  double (*run)(double scale, unsigned workers);
};

constexpr Workload kWorkloads[] = {
    {"counting", counting},   {"chameneos", chameneos},       {"big", big},
    {"concdict", concdict},   {"philosophers", philosophers}, {"barber", barber},
    {"bndbuffer", bndbuffer}, {"banking", banking},           {"concdict-tell", concdict_tell},
    {"bndbuffer-queue", bndbuffer_queue},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: savina-troupe <workload|list> <scale> <workers>\n");
    for (const auto& w : kWorkloads) std::fprintf(stderr, "  %s\n", w.name);
    return 2;
  }
  std::string name = argv[1];
  double scale = std::atof(argv[2]);
  unsigned workers = static_cast<unsigned>(std::atoi(argv[3]));
  for (const auto& w : kWorkloads) {
    if (name == w.name) {
      double ms = w.run(scale, workers);
      std::printf("%s %.3f\n", w.name, ms);
      return 0;
    }
  }
  std::fprintf(stderr, "savina-troupe: no workload %s\n", name.c_str());
  return 2;
}
