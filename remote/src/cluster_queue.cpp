// cluster_queue.cpp - the engine of ClusterQueue<T> on NATS JetStream (cnats js_* API).
//
// Three JetStream streams per queue, all created here (or bound to when they exist):
//   TROUPE_Q_<name>       work-queue retention, subject troupe.q.<name>: the items. An item
//                         leaves it when acknowledged; MaxMsgs + discard-new is `capacity`.
//   TROUPE_Q_<name>_DEAD  limits retention, troupe.q.<name>.dead: the dead letters, each with
//                         its error and delivery count in headers.
//   TROUPE_Q_<name>_ERR   one message per item sequence (troupe.q.<name>.err.<seq>, one kept
//                         per subject): the last error reported by retry(), read when an item
//                         lapses for good after a worker died holding it.
// One durable pull consumer, "workers", shared by every process. Its MaxDeliver is left
// unlimited: the delivery limit is enforced here, so that an item over the limit is moved to
// the dead letters (and acknowledged) instead of staying stuck in the work-queue stream,
// where it would keep join() waiting forever.
//
// Threads: cnats delivers publish acknowledgements on its own thread (ack_handler); a
// fetcher thread pulls items for waiting gets; a pump thread runs whatever may block on a
// JetStream request (stream info for join and stats, dead-lettering, reading dead letters)
// and the delayed re-sends of puts, and the readings observe() shows (on a reader's request).
// No troupe handler ever runs on these threads: they only complete promises, and a
// coroutine waiting on one resumes on its own actor.
#include "troupe/remote/cluster_queue.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <nats/nats.h>

#include "troupe/probe.hpp"
#include "troupe/usage_error.hpp"

namespace troupe::detail::cq {

LeaseHandle::~LeaseHandle() = default;
QueueCore::~QueueCore() = default;

namespace {

using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kErrorHeader = "Troupe-Error";
constexpr const char* kDeliveriesHeader = "Troupe-Deliveries";
constexpr const char* kIdHeader = "Troupe-Id";
constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr const char* kConsumer = "workers";
constexpr jsErrCode kStoreFailed = static_cast<jsErrCode>(10077);

SteadyTime now() { return std::chrono::steady_clock::now(); }

/// `timeout` from now, without overflow (max() and anything beyond 100 years: no limit).
SteadyTime deadline_after(milliseconds timeout) { return now() + clamp_timeout(timeout); }

std::string nats_text(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    text += std::string(" (") + last + ")";
  }
  return text;
}

template <class E>
std::exception_ptr error(std::string text) {
  return std::make_exception_ptr(E(std::move(text)));
}

std::string header(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) == NATS_OK && value != nullptr) return value;
  return {};
}

std::int64_t nanos(milliseconds d) { return static_cast<std::int64_t>(d.count()) * 1'000'000; }

/// natsSubscription_Fetch(list, sub, batch, wait_ms), except that while messages are already
/// queued on `sub` it takes them one at a time.
///
/// Why: cnats 3.4.1's _fetch() (behind Fetch and FetchRequest) first takes the messages queued
/// on the subscription (say p), then asks the server for `batch - p` and reads while
/// `count != batch - p`, storing each message in an array sized for `batch`. Messages are
/// queued there when an earlier fetch returned before the server's answer to it came in (its
/// wait ran out while messages or the 408 were on the way; with a short wait and a busy
/// host, often). If p > batch / 2, `count` starts above the bound, the loop ends only on a
/// timeout or an error, and each further message is written past the end of the array: heap
/// corruption, seen as "double free or corruption" in natsMsgList_Destroy. A batch of 1 cannot
/// run past its array, and a batch fetched with nothing queued starts from p = 0. Left open: a
/// burst landing between the check and the fetch (a window of microseconds).
natsStatus fetch_batch(natsMsgList* list, natsSubscription* sub, int batch, std::int64_t wait_ms) {
  int queued = 0;
  if (natsSubscription_GetPending(sub, &queued, nullptr) == NATS_OK && queued > 0) batch = 1;
  return natsSubscription_Fetch(list, sub, batch, wait_ms, nullptr);
}

/// The delivery count and stream sequence of a fetched message, from its reply subject
/// ($JS.ACK.<stream>.<consumer>.<delivered>.<sequence>.<consumer seq>.<time>.<pending>,
/// or with <domain>.<account hash> after $JS.ACK and a token at the end), read in place:
/// natsMsg_GetMetaData would allocate a structure and copy two names for each message.
/// Falls back to it for a subject of another shape.
bool delivery_of(natsMsg* msg, std::uint64_t& delivered, std::uint64_t& sequence) {
  std::string_view reply = natsMsg_GetReply(msg) != nullptr ? natsMsg_GetReply(msg) : "";
  std::string_view tokens[12];
  std::size_t n = 0;
  for (std::size_t at = 0; n < 12;) {
    std::size_t dot = reply.find('.', at);
    tokens[n++] = reply.substr(at, dot == std::string_view::npos ? dot : dot - at);
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  auto number = [](std::string_view t, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc() && end == t.data() + t.size() && !t.empty();
  };
  if (n >= 9 && tokens[0] == "$JS" && tokens[1] == "ACK") {
    std::size_t first = n == 9 ? 4 : n >= 11 ? 6 : 0;
    if (first != 0 && number(tokens[first], delivered) && number(tokens[first + 1], sequence)) {
      return true;
    }
  }
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return false;
  delivered = meta->NumDelivered;
  sequence = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return true;
}

void validate(const ClusterQueueOptions& o) {
  if (o.name.empty() || !std::all_of(o.name.begin(), o.name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_';
      })) {
    throw std::invalid_argument("ClusterQueue: the name '" + o.name +
                                "' is not usable: use letters, digits, '-' and '_'");
  }
  if (o.urls.empty()) throw std::invalid_argument("ClusterQueue: no NATS url given");
  if (o.max_deliver < 1) throw std::invalid_argument("ClusterQueue: max_deliver must be >= 1");
  if (o.ack_wait < milliseconds(1))
    throw std::invalid_argument("ClusterQueue: ack_wait must be >= 1ms");
  if (o.replicas < 1 || o.replicas > 5) {
    throw std::invalid_argument("ClusterQueue: replicas must be between 1 and 5");
  }
  if (o.prefetch < 1 || o.prefetch > 1024) {
    throw std::invalid_argument("ClusterQueue: prefetch must be between 1 and 1024");
  }
  if (o.max_pending_puts < 1)
    throw std::invalid_argument("ClusterQueue: max_pending_puts must be >= 1");
}

/// A put waiting for its acknowledgement (or for its next attempt).
struct PendingPut {
  std::string data;
  std::string id;
  SteadyTime deadline;
  Promise<void> promise;
};

/// An item fetched and not yet handed to a get.
struct Fetched {
  natsMsg* msg = nullptr;
  std::uint64_t deliveries = 0;
  std::uint64_t sequence = 0;
  SteadyTime at;
};

struct Getter {
  Promise<RawLease> promise;
  SteadyTime deadline;
};

class Engine;

// -- a lease --------------------------------------------------------------------------------

class Handle final : public LeaseHandle, public std::enable_shared_from_this<Handle> {
 public:
  Handle(std::shared_ptr<Engine> engine, const Fetched& f);
  ~Handle() override;

  Future<void> done() override;
  Future<void> retry(std::string error, milliseconds delay) override;
  void in_progress() override;
  Future<void> dead_letter(std::string error) override;
  const std::string& message_id() override {
    std::call_once(id_once_, [this] { id_ = header(msg_, kMsgIdHeader); });
    return id_;
  }

  natsMsg* msg() const { return msg_; }

 private:
  bool settle() { return !settled_.exchange(true); }
  static Future<void> settled_twice() {
    return Future<void>::failed(error<UsageError>(
        "Lease: already settled (done, retry or a dead letter); settle a lease once"));
  }

  std::shared_ptr<Engine> engine_;
  natsMsg* msg_;
  std::atomic<bool> settled_{false};
  // Parsing a message's headers allocates a table: done only if the id is asked for.
  std::once_flag id_once_;
  std::string id_;
};

// -- the engine -----------------------------------------------------------------------------

class Engine final : public QueueCore, public std::enable_shared_from_this<Engine> {
 public:
  explicit Engine(ClusterQueueOptions o) : options_(std::move(o)) {
    stream_ = "TROUPE_Q_" + options_.name;
    subject_ = "troupe.q." + options_.name;
    dead_stream_ = stream_ + "_DEAD";
    dead_subject_ = subject_ + ".dead";
    err_stream_ = stream_ + "_ERR";
    err_prefix_ = subject_ + ".err.";
    std::random_device seed;
    std::uint64_t r = (std::uint64_t{seed()} << 32) ^ seed();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(r));
    id_prefix_ = buf;
  }

  ~Engine() override {
    close();
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);  // not Unsubscribe: keep the consumer
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }

  void start();  // connect, streams, consumer, threads

  // -- QueueCore ----------------------------------------------------------------------------

  Future<void> put(std::string data, std::string id, milliseconds timeout) override {
    Promise<void> promise;
    Future<void> future = promise.future();
    if (id.empty()) id = id_prefix_ + "-" + std::to_string(next_id_.fetch_add(1) + 1);
    std::uint64_t key;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        return Future<void>::failed(error<Cancelled>("ClusterQueue::put: the queue is closed"));
      }
      key = ++next_put_;
      puts_.emplace(key, PendingPut{std::move(data), std::move(id), deadline_after(timeout),
                                    std::move(promise)});
    }
    send(key);
    return future;
  }

  Future<RawLease> get(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    if (closed_) {
      return Future<RawLease>::failed(error<Cancelled>("ClusterQueue::get: the queue is closed"));
    }
    Promise<RawLease> promise;
    Future<RawLease> future = promise.future();
    // A zero timeout still gets one fetch's chance.
    getters_.push_back(
        Getter{std::move(promise), deadline_after(std::max(timeout, milliseconds(50)))});
    last_get_ = now();
    auto ready = match(lock);
    bool wake = !getters_.empty() || refill_wanted();
    lock.unlock();
    hand_out(ready);
    if (wake) fetch_cv_.notify_one();
    return future;
  }

  bool try_get(RawLease& out) override {
    Fetched item;
    bool wake;
    {
      std::lock_guard lock(mu_);
      if (closed_ || !getters_.empty()) return false;  // earlier gets are served first
      drop_stale();
      if (ready_.empty()) return false;
      item = ready_.front();
      ready_.pop_front();
      last_get_ = now();
      wake = refill_wanted();
    }
    if (wake) fetch_cv_.notify_one();
    out = lease_of(item);
    return true;
  }

  Future<void> join() override {
    auto promise = std::make_shared<Promise<void>>();
    Future<void> future = promise->future();
    poll_join(promise);
    return future;
  }

  Future<ClusterQueueStats> stats() override {
    auto promise = std::make_shared<Promise<ClusterQueueStats>>();
    Future<ClusterQueueStats> future = promise->future();
    post(
        [this, promise] {
          try {
            promise->set_value(read_stats());
          } catch (...) {
            promise->set_exception(std::current_exception());
          }
        },
        promise.get());
    return future;
  }

  Future<std::vector<RawDeadLetter>> dead_letters() override {
    auto promise = std::make_shared<Promise<std::vector<RawDeadLetter>>>();
    auto future = promise->future();
    post(
        [this, promise] {
          try {
            promise->set_value(read_dead_letters());
          } catch (...) {
            promise->set_exception(std::current_exception());
          }
        },
        promise.get());
    return future;
  }

  void close() override;

  const ClusterQueueOptions& options() const override { return options_; }

  void observe(System& system) override {
    std::lock_guard one(observing_);
    if (observing_closed_) return;  // close() took the series off for good
    unobserve_locked();
    std::uint64_t id = probe::add_metrics_source(
        system, [this](std::vector<probe::Metric>& out) { report(out); });
    observed_ = &system;
    source_ = id;
  }

  void unobserve() override {
    std::lock_guard one(observing_);
    unobserve_locked();
  }

  // -- what leases use ----------------------------------------------------------------------

  jsOptions* ack_options() { return nullptr; }

  /// What this process did with the queue, for observe()'s series. Counts only grow.
  struct Counts {
    std::atomic<std::uint64_t> puts{0}, leases{0}, redeliveries{0}, done{0}, retries{0},
        dead_lettered{0};
  };
  Counts& counted() { return counts_; }
  int max_deliver() const { return options_.max_deliver; }

  /// Records `text` as the last error of item `sequence` (fire and forget).
  void record_error(std::uint64_t sequence, const std::string& text) {
    std::string subject = err_prefix_ + std::to_string(sequence);
    js_PublishAsync(js_, subject.c_str(), text.data(), static_cast<int>(text.size()), nullptr);
  }

  /// Moves the item of `h` to the dead letters, then acknowledges it. On the pump thread.
  Future<void> dead_letter(std::shared_ptr<Handle> h, std::string text, bool look_up_error) {
    auto promise = std::make_shared<Promise<void>>();
    Future<void> future = promise->future();
    post(
        [this, h, text = std::move(text), look_up_error, promise]() mutable {
          try {
            if (look_up_error) text = lapsed_error(*h);
            publish_dead(*h, text);
            natsStatus s = natsMsg_AckSync(h->msg(), nullptr, nullptr);
            if (s != NATS_OK)
              throw RemoteError("acknowledging a dead-lettered item: " + nats_text(s));
            counts_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
            promise->set_value();
          } catch (...) {
            promise->set_exception(std::current_exception());
          }
        },
        promise.get());
    return future;
  }

 private:
  // -- observed: the series a System's metrics show -----------------------------------------

  void unobserve_locked() {
    if (observed_ != nullptr) probe::remove_metrics_source(*observed_, source_);
    observed_ = nullptr;
  }

  /// The metrics source (on the reader's thread): the last JetStream reading, fresh within
  /// 250 ms if the pump gets it within 100 ms, and this process's counts.
  void report(std::vector<probe::Metric>& out) {
    ClusterQueueStats r;
    bool ok, have;
    double age;
    {
      std::unique_lock lock(reading_mu_);
      auto t = now();
      if (!refreshing_ && (!have_reading_ || t - read_at_ > milliseconds(250))) {
        refreshing_ = post_at(t, [this] { refresh_reading(); });
      }
      if (refreshing_) reading_cv_.wait_for(lock, milliseconds(100), [&] { return !refreshing_; });
      r = reading_;
      have = have_reading_;
      ok = reading_ok_ && have;
      age = have ? std::chrono::duration<double>(now() - read_at_).count() : 0.0;
    }
    auto add = [&](const char* name, const char* help, bool counter, double value,
                   const char* outcome = nullptr) {
      out.push_back({name, help, counter, {{"queue", options_.name}}, value});
      if (outcome != nullptr) out.back().labels.emplace_back("outcome", outcome);
    };
    auto n = [](std::uint64_t v) { return static_cast<double>(v); };
    add("troupe_cluster_queue_up", "1 if the last reading of the queue from JetStream succeeded.",
        false, ok ? 1 : 0);
    add("troupe_cluster_queue_reading_age_seconds",
        "Age of the last reading of the queue from JetStream.", false, age);
    add("troupe_cluster_queue_capacity", "Most items the queue holds at once; 0: unbounded.",
        false, n(options_.capacity));
    if (have) {
      add("troupe_cluster_queue_items",
          "Items put and not yet done (queued or leased), across the cluster.", false, n(r.items));
      add("troupe_cluster_queue_waiting", "Items waiting for a worker, across the cluster.",
          false, n(r.undelivered));
      add("troupe_cluster_queue_leases",
          "Items delivered and not yet settled (pending leases), across the cluster.", false,
          n(r.leased));
      add("troupe_cluster_queue_redelivered",
          "Pending leases that are not their item's first delivery, across the cluster.", false,
          n(r.redelivered));
      add("troupe_cluster_queue_dead_letters", "Items in the dead-letter stream.", false,
          n(r.dead_letters));
      add("troupe_cluster_queue_stored_total", "Items ever stored in the queue.", true,
          n(r.stored));
      add("troupe_cluster_queue_done_total", "Items done, across the cluster.", true, n(r.done));
      add("troupe_cluster_queue_deliveries_total", "Deliveries ever made, across the cluster.",
          true, n(r.deliveries));
      add("troupe_cluster_queue_redeliveries_total",
          "Deliveries that were not an item's first, across the cluster.", true,
          n(r.redeliveries));
    }
    auto c = [](const std::atomic<std::uint64_t>& v) {
      return static_cast<double>(v.load(std::memory_order_relaxed));
    };
    add("troupe_cluster_queue_puts_total", "Items this process put that JetStream stored.", true,
        c(counts_.puts));
    add("troupe_cluster_queue_leased_total", "Leases handed out in this process.", true,
        c(counts_.leases));
    add("troupe_cluster_queue_leased_again_total",
        "Leases handed out in this process on an item's second or later delivery.", true,
        c(counts_.redeliveries));
    const char* settled = "Leases settled in this process, by outcome.";
    add("troupe_cluster_queue_settled_total", settled, true, c(counts_.done), "done");
    add("troupe_cluster_queue_settled_total", settled, true, c(counts_.retries), "retry");
    add("troupe_cluster_queue_settled_total", settled, true, c(counts_.dead_lettered),
        "dead_letter");
  }

  /// On the pump: a new reading for report(). Counters are kept from going down (the three
  /// requests of a reading are not one instant).
  void refresh_reading() {
    ClusterQueueStats s;
    bool ok = true;
    try {
      s = read_stats();
    } catch (const std::exception&) {
      ok = false;
    }
    {
      std::lock_guard lock(reading_mu_);
      if (ok) {
        s.stored = std::max(s.stored, reading_.stored);
        s.done = std::max(s.done, reading_.done);
        s.deliveries = std::max(s.deliveries, reading_.deliveries);
        s.redeliveries = std::max(s.redeliveries, reading_.redeliveries);
        reading_ = s;
        have_reading_ = true;
      }
      reading_ok_ = ok;
      read_at_ = now();
      refreshing_ = false;
    }
    reading_cv_.notify_all();
  }

  // -- puts ---------------------------------------------------------------------------------

  /// Sends put `key` (again). Its promise fails if it is past its deadline.
  void send(std::uint64_t key) {
    natsMsg* msg = nullptr;
    std::string id;
    {
      std::lock_guard lock(mu_);
      auto it = puts_.find(key);
      if (it == puts_.end()) return;
      id = it->second.id;
      natsMsg_Create(&msg, subject_.c_str(), nullptr, it->second.data.data(),
                     static_cast<int>(it->second.data.size()));
      // The acknowledgement handler gets this very message back: its address finds the
      // put (no header of ours for the server to store and deliver). Listed before it is
      // sent, as the acknowledgement may come first; the address stays ours until the
      // handler destroys the message, so it names one put at a time.
      if (msg != nullptr) flying_.emplace(msg, key);
    }
    if (msg == nullptr) {
      retry_put(key, "out of memory creating a message");
      return;
    }
    natsMsg* sent = msg;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    po.MaxWait = options_.request_timeout.count();
    natsStatus s = js_PublishMsgAsync(js_, &msg, &po);
    if (msg != nullptr) {  // not taken: it was not sent
      {
        std::lock_guard lock(mu_);
        flying_.erase(sent);
      }
      natsMsg_Destroy(msg);
    }
    if (s != NATS_OK) retry_put(key, nats_text(s));
  }

  /// Schedules another attempt at put `key`, or fails it if its deadline has passed.
  void retry_put(std::uint64_t key, const std::string& why, milliseconds delay = milliseconds(50)) {
    std::unique_lock lock(mu_);
    auto it = puts_.find(key);
    if (it == puts_.end()) return;
    if (closed_ || now() + delay >= it->second.deadline) {
      PendingPut p = std::move(it->second);
      puts_.erase(it);
      lock.unlock();
      if (closed_) {
        p.promise.set_exception(error<Cancelled>("ClusterQueue::put: the queue was closed"));
      } else {
        p.promise.set_exception(
            error<TimeoutError>("ClusterQueue::put: not stored before its timeout (" + why + ")"));
      }
      return;
    }
    lock.unlock();
    post_at(now() + delay, [this, key] { send(key); });
  }

  static void ack_handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<Engine*>(closure);
    std::uint64_t key = 0;
    std::optional<PendingPut> stored;
    {
      std::lock_guard lock(self->mu_);
      auto it = self->flying_.find(msg);
      if (it != self->flying_.end()) {
        key = it->second;
        self->flying_.erase(it);
        if (pa != nullptr) {  // the common case: finished under this one lock
          if (auto p = self->puts_.find(key); p != self->puts_.end()) {
            stored.emplace(std::move(p->second));
            self->puts_.erase(p);
          }
        }
      }
    }
    natsMsg_Destroy(msg);
    if (key == 0) return;  // an error record (record_error): nobody waits for it
    if (pa != nullptr) {
      if (stored) {
        self->counts_.puts.fetch_add(1, std::memory_order_relaxed);
        stored->promise.set_value();
      }
      return;
    }
    std::string text = pae->ErrText != nullptr ? pae->ErrText : nats_text(pae->Err);
    bool full = pae->ErrCode == kStoreFailed && text.find("maximum messages") != std::string::npos;
    if (full && self->options_.when_full == WhenFull::reject) {
      self->finish_put(key, error<QueueFull>("ClusterQueue::put: the queue '" +
                                             self->options_.name + "' is full (capacity " +
                                             std::to_string(self->options_.capacity) + ")"));
    } else if (full || pae->Err == NATS_TIMEOUT || pae->Err == NATS_NO_RESPONDERS ||
               pae->Err == NATS_CONNECTION_CLOSED || pae->Err == NATS_CONNECTION_DISCONNECTED) {
      self->retry_put(key, full ? "the queue stayed full" : text,
                      full ? milliseconds(20) : milliseconds(100));
    } else {
      self->finish_put(
          key, error<RemoteError>("ClusterQueue::put: JetStream refused the item: " + text));
    }
  }

  void finish_put(std::uint64_t key, std::exception_ptr e) {
    std::unique_lock lock(mu_);
    auto it = puts_.find(key);
    if (it == puts_.end()) return;
    PendingPut p = std::move(it->second);
    puts_.erase(it);
    lock.unlock();
    if (e) {
      p.promise.set_exception(e);
    } else {
      p.promise.set_value();
    }
  }

  // -- gets ---------------------------------------------------------------------------------

  struct Match {
    Getter getter;
    Fetched item;
  };

  /// Pairs waiting gets with fetched items, oldest first. Under mu_. An item held here
  /// for half its ack_wait is given back rather than handed out with a lease about to lapse.
  std::vector<Match> match(std::unique_lock<std::mutex>&) {
    std::vector<Match> out;
    drop_stale();
    while (!getters_.empty() && !ready_.empty()) {
      out.push_back(Match{std::move(getters_.front()), ready_.front()});
      getters_.pop_front();
      ready_.pop_front();
    }
    return out;
  }

  /// Gives back items held here for half their ack_wait (their lease would be about to
  /// lapse when handed out). Under mu_.
  void drop_stale() {
    if (ready_.empty()) return;
    auto stale = now() - options_.ack_wait / 2;
    while (!ready_.empty() && ready_.front().at < stale) {
      natsMsg_Nak(ready_.front().msg, nullptr);
      natsMsg_Destroy(ready_.front().msg);
      ready_.pop_front();
    }
  }

  /// The lease on a fetched item (which it owns from now on), counted.
  RawLease lease_of(const Fetched& item) {
    int len = natsMsg_GetDataLength(item.msg);
    const char* data = natsMsg_GetData(item.msg);
    counts_.leases.fetch_add(1, std::memory_order_relaxed);
    if (item.deliveries > 1) counts_.redeliveries.fetch_add(1, std::memory_order_relaxed);
    return RawLease{std::string_view(data != nullptr ? data : "", static_cast<std::size_t>(len)),
                    std::make_shared<Handle>(shared_from_this(), item)};
  }

  void hand_out(std::vector<Match>& matches) {
    for (auto& m : matches) m.getter.promise.set_value(lease_of(m.item));
  }

  /// With prefetch, the fetcher tops up what is held here while gets keep coming (within
  /// the last second), so that a busy worker finds its next item here. Under mu_.
  bool refill_wanted() const {
    return options_.prefetch > 1 &&
           ready_.size() <= static_cast<std::size_t>(options_.prefetch / 2) &&
           now() - last_get_ < std::chrono::seconds(1);
  }

  void fetch_loop() {
    for (;;) {
      int want = 0;
      SteadyTime until;
      std::vector<Getter> expired;
      {
        std::unique_lock lock(mu_);
        auto work = [&] { return closed_ || !getters_.empty() || refill_wanted(); };
        fetch_cv_.wait_for(lock, milliseconds(100), work);
        if (closed_) return;
        if (!work()) continue;
        auto t = now();
        // Expire gets past their deadline; drop items held too long (their lease is
        // half gone: give them back rather than hand out a lease about to lapse).
        while (!getters_.empty() && getters_.front().deadline <= t) {
          expired.push_back(std::move(getters_.front()));
          getters_.pop_front();
        }
        until = getters_.empty() ? t + milliseconds(50) : getters_.front().deadline;
        for (auto& g : getters_) until = std::min(until, g.deadline);
        want = std::max<int>(static_cast<int>(getters_.size()), options_.prefetch) -
               static_cast<int>(ready_.size());
      }
      for (auto& g : expired) {
        g.promise.set_exception(
            error<TimeoutError>("ClusterQueue::get: no item within the timeout"));
      }
      if (want <= 0) continue;
      auto left = std::chrono::duration_cast<milliseconds>(until - now());
      std::int64_t wait_ms = std::clamp<std::int64_t>(left.count(), 1, 200);
      natsMsgList list{nullptr, 0};
      natsStatus s = fetch_batch(&list, sub_, std::min(want, 256), wait_ms);
      if (s != NATS_OK && s != NATS_TIMEOUT) {
        std::this_thread::sleep_for(milliseconds(50));  // disconnected: cnats reconnects
      }
      std::vector<Fetched> got;
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* m = list.Msgs[i];
        list.Msgs[i] = nullptr;  // ours now
        std::uint64_t delivered = 0, sequence = 0;
        if (!delivery_of(m, delivered, sequence)) {
          natsMsg_Destroy(m);
          continue;
        }
        got.push_back(Fetched{m, delivered, sequence, now()});
      }
      natsMsgList_Destroy(&list);
      auto self = shared_from_this();
      std::vector<Match> matches;
      std::vector<Fetched> lapsed;
      {
        std::unique_lock lock(mu_);
        for (auto& f : got) {
          if (f.deliveries > static_cast<std::uint64_t>(options_.max_deliver)) {
            lapsed.push_back(f);
          } else {
            ready_.push_back(f);
          }
        }
        matches = match(lock);
      }
      for (auto& f : lapsed) {
        // Its last holder never settled it: a dead letter, not a lease. The error is
        // looked up on the pump thread.
        std::make_shared<Handle>(self, f)->dead_letter("");
      }
      hand_out(matches);
    }
  }

  // -- the pump: requests that wait on JetStream, and timed work ------------------------------

  /// Runs `fn` on the pump thread; if the queue is closed, fails `promise` instead.
  template <class P>
  void post(std::function<void()> fn, P* promise) {
    if (!post_at(now(), std::move(fn)) && promise != nullptr) {
      promise->set_exception(error<Cancelled>("ClusterQueue: the queue is closed"));
    }
  }
  bool post_at(SteadyTime at, std::function<void()> fn) {
    {
      std::lock_guard lock(pump_mu_);
      if (pump_stop_) return false;
      timed_.emplace(at, std::move(fn));
    }
    pump_cv_.notify_one();
    return true;
  }

  void pump_loop() {
    std::unique_lock lock(pump_mu_);
    for (;;) {
      if (pump_stop_) return;
      if (timed_.empty()) {
        pump_cv_.wait(lock);
        continue;
      }
      auto first = timed_.begin();
      if (first->first > now()) {
        pump_cv_.wait_until(lock, first->first);
        continue;
      }
      auto fn = std::move(first->second);
      timed_.erase(first);
      lock.unlock();
      try {
        fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "troupe ClusterQueue '%s': %s\n", options_.name.c_str(), e.what());
      }
      lock.lock();
    }
  }

  void poll_join(std::shared_ptr<Promise<void>> promise) {
    post(
        [this, promise] {
          bool puts_pending;
          {
            std::lock_guard lock(mu_);
            puts_pending = !puts_.empty();
          }
          if (!puts_pending) {
            jsStreamInfo* si = nullptr;
            jsOptions o;
            jsOptions_Init(&o);
            o.Wait = options_.request_timeout.count();
            if (js_GetStreamInfo(&si, js_, stream_.c_str(), &o, nullptr) == NATS_OK) {
              bool empty = si->State.Msgs == 0;
              jsStreamInfo_Destroy(si);
              if (empty) {
                promise->set_value();
                return;
              }
            }
          }
          if (!post_at(now() + milliseconds(20), [this, promise] { poll_join(promise); })) {
            promise->set_exception(error<Cancelled>("ClusterQueue::join: the queue was closed"));
          }
        },
        promise.get());
  }

  ClusterQueueStats read_stats() {
    ClusterQueueStats out;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = options_.request_timeout.count();
    jsStreamInfo* si = nullptr;
    natsStatus s = js_GetStreamInfo(&si, js_, stream_.c_str(), &o, nullptr);
    if (s != NATS_OK) throw RemoteError("ClusterQueue::stats: " + nats_text(s));
    out.items = si->State.Msgs;
    out.stored = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    s = js_GetStreamInfo(&si, js_, dead_stream_.c_str(), &o, nullptr);
    if (s != NATS_OK) throw RemoteError("ClusterQueue::stats: " + nats_text(s));
    out.dead_letters = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    jsConsumerInfo* ci = nullptr;
    s = js_GetConsumerInfo(&ci, js_, stream_.c_str(), kConsumer, &o, nullptr);
    if (s != NATS_OK) throw RemoteError("ClusterQueue::stats: " + nats_text(s));
    out.leased = static_cast<std::uint64_t>(ci->NumAckPending);
    out.undelivered = ci->NumPending;
    out.redelivered = static_cast<std::uint64_t>(ci->NumRedelivered);
    out.deliveries = ci->Delivered.Consumer;
    // Every item up to the last one delivered was delivered once (a work queue hands them
    // out in order); the deliveries beyond those were deliveries again.
    out.redeliveries = ci->Delivered.Consumer - std::min(ci->Delivered.Consumer, ci->Delivered.Stream);
    jsConsumerInfo_Destroy(ci);
    // Read in three requests, not at one instant: an item dead-lettered in between may be
    // counted both left and dead, so `done` is clamped (and kept monotonic by the reader).
    std::uint64_t gone = out.items + out.dead_letters;
    out.done = out.stored > gone ? out.stored - gone : 0;
    return out;
  }

  std::vector<RawDeadLetter> read_dead_letters() {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = options_.request_timeout.count();
    jsStreamInfo* si = nullptr;
    natsStatus s = js_GetStreamInfo(&si, js_, dead_stream_.c_str(), &o, nullptr);
    if (s != NATS_OK) throw RemoteError("ClusterQueue::dead_letters: " + nats_text(s));
    std::uint64_t first = si->State.FirstSeq, last = si->State.LastSeq, count = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    std::vector<RawDeadLetter> out;
    if (count == 0) return out;
    for (std::uint64_t seq = first; seq <= last; ++seq) {
      natsMsg* m = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      s = js_GetMsg(&m, js_, dead_stream_.c_str(), seq, &o, &code);
      if (s == NATS_NOT_FOUND || (s != NATS_OK && code != 0)) continue;  // deleted
      if (s != NATS_OK) throw RemoteError("ClusterQueue::dead_letters: " + nats_text(s));
      RawDeadLetter d;
      const char* data = natsMsg_GetData(m);
      d.data.assign(data != nullptr ? data : "",
                    static_cast<std::size_t>(natsMsg_GetDataLength(m)));
      d.id = header(m, kIdHeader);
      d.error = header(m, kErrorHeader);
      std::string n = header(m, kDeliveriesHeader);
      d.deliveries = n.empty() ? 0 : std::stoull(n);
      d.sequence = seq;
      natsMsg_Destroy(m);
      out.push_back(std::move(d));
    }
    return out;
  }

  /// The error of an item whose last holder never settled it. On the pump thread.
  std::string lapsed_error(const Handle& h) {
    std::string lapse = "delivered " + std::to_string(h.deliveries - 1) +
                        " times and never done (its worker died, hung or lost NATS within "
                        "ack_wait " +
                        std::to_string(options_.ack_wait.count()) + " ms)";
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = options_.request_timeout.count();
    natsMsg* m = nullptr;
    std::string subject = err_prefix_ + std::to_string(h.sequence);
    if (js_GetLastMsg(&m, js_, err_stream_.c_str(), subject.c_str(), &o, nullptr) == NATS_OK) {
      const char* data = natsMsg_GetData(m);
      std::string last(data != nullptr ? data : "",
                       static_cast<std::size_t>(natsMsg_GetDataLength(m)));
      natsMsg_Destroy(m);
      return last + "; then " + lapse;
    }
    return lapse;
  }

  void publish_dead(Handle& h, const std::string& text) {
    natsMsg* dead = nullptr;
    const char* data = natsMsg_GetData(h.msg());
    int len = natsMsg_GetDataLength(h.msg());
    natsStatus s = natsMsg_Create(&dead, dead_subject_.c_str(), nullptr, data, len);
    if (s != NATS_OK) throw RemoteError("dead letter: " + nats_text(s));
    std::unique_ptr<natsMsg, void (*)(natsMsg*)> guard(dead, natsMsg_Destroy);
    natsMsgHeader_Set(dead, kErrorHeader, text.c_str());
    natsMsgHeader_Set(
        dead, kDeliveriesHeader,
        std::to_string(std::min<std::uint64_t>(h.deliveries, options_.max_deliver)).c_str());
    natsMsgHeader_Set(dead, kIdHeader, h.message_id().c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    std::string id = "dead-" + std::to_string(h.sequence);  // once, even if done twice
    po.MsgId = id.c_str();
    po.MaxWait = options_.request_timeout.count();
    jsPubAck* pa = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    s = js_PublishMsg(&pa, js_, dead, &po, &code);
    if (pa != nullptr) jsPubAck_Destroy(pa);
    if (s != NATS_OK) throw RemoteError("storing a dead letter: " + nats_text(s));
  }

  // -- setup --------------------------------------------------------------------------------

  void connect();
  void add_stream(const std::string& name, const std::string& subject, jsRetentionPolicy retention,
                  std::int64_t max_msgs, std::int64_t max_per_subject);
  void add_consumer();

  ClusterQueueOptions options_;
  std::string stream_, subject_, dead_stream_, dead_subject_, err_stream_, err_prefix_;
  std::string id_prefix_;
  std::atomic<std::uint64_t> next_id_{0};

  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;

  std::mutex mu_;  // puts_, flying_, getters_, ready_, closed_
  std::condition_variable fetch_cv_;
  std::unordered_map<std::uint64_t, PendingPut> puts_;
  std::unordered_map<const natsMsg*, std::uint64_t> flying_;  // sent, unacknowledged: its put
  std::uint64_t next_put_ = 0;
  std::deque<Getter> getters_;
  std::deque<Fetched> ready_;
  SteadyTime last_get_{};
  bool closed_ = false;

  std::mutex pump_mu_;
  std::condition_variable pump_cv_;
  std::multimap<SteadyTime, std::function<void()>> timed_;
  bool pump_stop_ = false;

  std::thread fetcher_, pump_;
  std::once_flag close_once_;

  Counts counts_;
  std::mutex observing_;  // observe and unobserve, one at a time
  bool observing_closed_ = false;
  System* observed_ = nullptr;
  std::uint64_t source_ = 0;
  std::mutex reading_mu_;  // reading_ and what goes with it
  std::condition_variable reading_cv_;
  ClusterQueueStats reading_{};
  SteadyTime read_at_{};
  bool have_reading_ = false;
  bool reading_ok_ = false;
  bool refreshing_ = false;
};

void Engine::connect() {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) throw ConnectError("ClusterQueue: out of memory");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  std::vector<const char*> urls;
  for (auto& u : options_.urls) urls.push_back(u.c_str());
  auto check = [](natsStatus s, const char* what) {
    if (s != NATS_OK)
      throw std::invalid_argument(std::string("ClusterQueue: ") + what + ": " + nats_text(s));
  };
  check(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "bad NATS urls");
  std::string name = "troupe-queue-" + options_.name;
  check(natsOptions_SetName(opts, name.c_str()), "options");
  check(natsOptions_SetTimeout(opts, options_.connect_timeout.count()), "options");
  check(natsOptions_SetMaxReconnect(opts, -1), "options");
  check(natsOptions_SetReconnectWait(opts, 100), "options");
  check(natsOptions_SetReconnectBufSize(opts, 32 << 20), "options");
  check(natsOptions_SetPingInterval(opts, 2000), "options");
  if (!options_.token.empty()) check(natsOptions_SetToken(opts, options_.token.c_str()), "token");
  if (!options_.user.empty()) {
    check(natsOptions_SetUserInfo(opts, options_.user.c_str(), options_.password.c_str()),
          "user and password");
  }
  natsStatus s = natsConnection_Connect(&nc_, opts);
  if (s != NATS_OK) {
    nc_ = nullptr;
    throw ConnectError("ClusterQueue '" + options_.name + "': cannot connect to NATS at " +
                       options_.urls.front() + ": " + nats_text(s));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options_.request_timeout.count();
  jo.PublishAsync.MaxPending = options_.max_pending_puts;
  jo.PublishAsync.AckHandler = &Engine::ack_handler;
  jo.PublishAsync.AckHandlerClosure = this;
  jo.PublishAsync.StallWait = 60'000;
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) throw ConnectError("ClusterQueue: JetStream context: " + nats_text(s));
}

void Engine::add_stream(const std::string& name, const std::string& subject,
                        jsRetentionPolicy retention, std::int64_t max_msgs,
                        std::int64_t max_per_subject) {
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name.c_str();
  const char* subjects[] = {subject.c_str()};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Retention = retention;
  sc.Storage = options_.file_storage ? js_FileStorage : js_MemoryStorage;
  sc.Replicas = options_.replicas;
  sc.Duplicates = nanos(options_.duplicate_window);
  if (max_msgs > 0) {
    sc.MaxMsgs = max_msgs;
    sc.Discard = js_DiscardNew;
  }
  if (max_per_subject > 0) sc.MaxMsgsPerSubject = max_per_subject;
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  // A NATS cluster may still be electing its JetStream leader: try until connect_timeout.
  auto until = now() + options_.connect_timeout;
  for (;;) {
    natsStatus s = js_AddStream(&si, js_, &sc, nullptr, &code);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return;
    }
    std::string why = nats_text(s);
    if (code == JSStreamNameExistErr) {
      throw ConnectError("ClusterQueue '" + options_.name + "': the stream " + name +
                         " exists with other settings (capacity, replicas, storage or "
                         "duplicate window differ from this process's): " +
                         why);
    }
    if (s == NATS_NO_RESPONDERS || code == JSNotEnabledErr) {
      // No JetStream at all, or not yet (a cluster electing its leader).
      if (now() > until) {
        throw ConnectError(
            "ClusterQueue '" + options_.name +
            "': JetStream is not enabled on the NATS server (start it with -js): " + why);
      }
    } else if (now() > until) {
      throw ConnectError("ClusterQueue '" + options_.name + "': cannot create the stream " + name +
                         ": " + why);
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
}

void Engine::add_consumer() {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = kConsumer;
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = nanos(options_.ack_wait);
  cc.MaxDeliver = -1;  // enforced here (see the top of this file)
  cc.MaxAckPending = 20000;
  cc.MaxWaiting = 512;
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  auto until = now() + options_.connect_timeout;
  for (;;) {
    natsStatus s = js_AddConsumer(&ci, js_, stream_.c_str(), &cc, nullptr, &code);
    if (s == NATS_OK) {
      jsConsumerInfo_Destroy(ci);
      break;
    }
    if (code != static_cast<jsErrCode>(0) || now() > until) {
      throw ConnectError("ClusterQueue '" + options_.name +
                         "': cannot create or bind its consumer (does another process use other "
                         "ack_wait settings?): " +
                         nats_text(s));
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream_.c_str();
  so.Consumer = kConsumer;
  natsStatus s = js_PullSubscribe(&sub_, js_, subject_.c_str(), kConsumer, nullptr, &so, &code);
  if (s != NATS_OK) {
    sub_ = nullptr;
    throw ConnectError("ClusterQueue '" + options_.name + "': cannot subscribe: " + nats_text(s));
  }
}

void Engine::start() {
  validate(options_);
  connect();
  std::int64_t cap = static_cast<std::int64_t>(options_.capacity);
  add_stream(stream_, subject_, js_WorkQueuePolicy, cap, 0);
  add_stream(dead_stream_, dead_subject_, js_LimitsPolicy, 0, 0);
  add_stream(err_stream_, err_prefix_ + "*", js_LimitsPolicy, 0, 1);
  add_consumer();
  fetcher_ = std::thread([this] { fetch_loop(); });
  pump_ = std::thread([this] { pump_loop(); });
}

void Engine::close() {
  std::call_once(close_once_, [this] {
    {  // first: a reading in progress needs the pump
      std::lock_guard one(observing_);
      observing_closed_ = true;
      unobserve_locked();
    }
    // Let puts in flight be acknowledged (briefly), so that what was put is not lost.
    if (js_ != nullptr) {
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 2000;
      js_PublishAsyncComplete(js_, &po);
    }
    std::deque<Getter> getters;
    std::deque<Fetched> ready;
    std::unordered_map<std::uint64_t, PendingPut> puts;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      getters.swap(getters_);
      ready.swap(ready_);
      puts.swap(puts_);
    }
    fetch_cv_.notify_all();
    {
      std::lock_guard lock(pump_mu_);
      pump_stop_ = true;
    }
    pump_cv_.notify_all();
    if (fetcher_.joinable()) fetcher_.join();
    if (pump_.joinable()) pump_.join();
    // What the pump had not run yet: its promises break (BrokenPromise) as they go.
    timed_.clear();
    for (auto& f : ready) {  // prefetched, never handed out: give them back now
      natsMsg_Nak(f.msg, nullptr);
      natsMsg_Destroy(f.msg);
    }
    for (auto& g : getters)
      g.promise.set_exception(error<Cancelled>("ClusterQueue::get: the queue was closed"));
    for (auto& [key, p] : puts) {
      p.promise.set_exception(
          error<Cancelled>("ClusterQueue::put: the queue was closed before "
                           "JetStream acknowledged the item (it may be stored)"));
    }
    if (nc_ != nullptr) {
      natsConnection_FlushTimeout(nc_, 1000);  // acks and naks sent above
    }
  });
}

// -- Handle ----------------------------------------------------------------------------------

Handle::Handle(std::shared_ptr<Engine> engine, const Fetched& f)
    : engine_(std::move(engine)), msg_(f.msg) {
  deliveries = f.deliveries;
  sequence = f.sequence;
}

Handle::~Handle() {
  if (settle()) natsMsg_Nak(msg_, nullptr);  // dropped unsettled: give it back now
  natsMsg_Destroy(msg_);
}

Future<void> Handle::done() {
  if (!settle()) return settled_twice();
  natsStatus s = natsMsg_Ack(msg_, nullptr);
  if (s != NATS_OK) {
    return Future<void>::failed(
        error<RemoteError>("Lease::done: the acknowledgement was not sent (" + nats_text(s) +
                           "); the item will be delivered again"));
  }
  engine_->counted().done.fetch_add(1, std::memory_order_relaxed);
  return Future<void>::ready_with();
}

Future<void> Handle::retry(std::string text, milliseconds delay) {
  if (!settle()) return settled_twice();
  if (text.empty()) text = "retry() without an error";
  if (deliveries >= static_cast<std::uint64_t>(engine_->max_deliver())) {
    return engine_->dead_letter(shared_from_this(), std::move(text), false);
  }
  engine_->record_error(sequence, text);
  natsStatus s = delay.count() > 0 ? natsMsg_NakWithDelay(msg_, delay.count(), nullptr)
                                   : natsMsg_Nak(msg_, nullptr);
  if (s != NATS_OK) {
    return Future<void>::failed(
        error<RemoteError>("Lease::retry: the nak was not sent (" + nats_text(s) +
                           "); the item will be delivered again after ack_wait"));
  }
  engine_->counted().retries.fetch_add(1, std::memory_order_relaxed);
  return Future<void>::ready_with();
}

void Handle::in_progress() {
  if (!settled_.load()) natsMsg_InProgress(msg_, nullptr);
}

Future<void> Handle::dead_letter(std::string text) {
  if (!settle()) return settled_twice();
  bool look_up = text.empty();
  return engine_->dead_letter(shared_from_this(), std::move(text), look_up);
}

}  // namespace

std::shared_ptr<QueueCore> QueueCore::open(ClusterQueueOptions options) {
  auto engine = std::make_shared<Engine>(std::move(options));
  engine->start();
  return engine;
}

}  // namespace troupe::detail::cq
