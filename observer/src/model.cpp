// model.cpp - snapshots of a system, the rates between them, and their renderings.
#include "model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <string_view>
#include <tuple>
#include <unistd.h>

namespace troupe::observe {

namespace {

const char* state_name(ActorState s) {
  switch (s) {
    case ActorState::idle: return "idle";
    case ActorState::scheduled: return "scheduled";
    case ActorState::stopped: return "stopped";
  }
  return "unknown";
}

/// A label value of the Prometheus text format: backslash, quote and newline escaped.
std::string label(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/// Strings in JSON must be UTF-8; names are the user's bytes and may not be.
std::string utf8_safe(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    }
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

/// A metric or label name of the Prometheus data model.
bool valid_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

bool contains_folded(const std::string& haystack, const std::string& needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

nlohmann::json row_json(const Row& r) {
  return {{"id", r.info.id},
          {"name", utf8_safe(r.info.name)},
          {"type", utf8_safe(r.info.type)},
          {"state", state_name(r.info.state)},
          {"depth", r.info.mailbox_depth},
          {"handled", r.info.handled},
          {"rate", std::round(r.rate * 10) / 10},
          {"failures", r.info.failures},
          {"restarts", r.info.restarts},
          {"daemon", r.info.daemon},
          {"dedicated", r.info.dedicated_thread},
          {"parent", r.info.parent},
          {"children", r.children},
          {"growing", r.growing}};
}

// The order of /actors.json's `sort`: a less-than on rows, ties broken by id.
std::function<bool(const Row*, const Row*)> order_by(const std::string& key, bool descending) {
  auto by = [descending](auto field) {
    return [field, descending](const Row* a, const Row* b) {
      auto fa = field(*a);
      auto fb = field(*b);
      if (fa != fb) return descending ? fb < fa : fa < fb;
      return a->info.id < b->info.id;
    };
  };
  if (key == "name") return by([](const Row& r) { return r.info.name; });
  if (key == "type") return by([](const Row& r) { return r.info.type; });
  if (key == "state") return by([](const Row& r) { return static_cast<int>(r.info.state); });
  if (key == "depth") return by([](const Row& r) { return r.info.mailbox_depth; });
  if (key == "handled") return by([](const Row& r) { return r.info.handled; });
  if (key == "rate") return by([](const Row& r) { return r.rate; });
  if (key == "failures") return by([](const Row& r) { return r.info.failures; });
  if (key == "restarts") return by([](const Row& r) { return r.info.restarts; });
  if (key == "daemon") return by([](const Row& r) { return r.info.daemon; });
  if (key == "children") return by([](const Row& r) { return r.children; });
  return by([](const Row& r) { return r.info.id; });
}

}  // namespace

Model::Model(System& system) : system_(&system), started_(std::chrono::steady_clock::now()) {}

void Model::refresh(std::chrono::milliseconds min_age) {
  auto now = std::chrono::steady_clock::now();
  // A snapshot walks the registry: with 100,000 actors it takes a tenth of a second or
  // more. Space them out to spend at most a tenth of one thread's time on them.
  auto spacing = std::max<std::chrono::steady_clock::duration>(min_age, 10 * cost_);
  if (have_snapshot_ && now - taken_ < spacing) return;
  double seconds = have_snapshot_ ? std::chrono::duration<double>(now - taken_).count()
                                  : std::chrono::duration<double>(now - started_).count();
  if (seconds <= 0) seconds = 1e-3;
  // The counters before the walk: an actor that ends between the two is missed for one
  // snapshot (handled_by_ended grows after it leaves the registry), never counted twice.
  stats_ = system_->stats();
  std::vector<ActorInfo> infos = system_->actors();
  live_ = infos.size();

  std::unordered_map<std::uint32_t, Seen> seen;
  seen.reserve(infos.size());
  std::unordered_map<std::uint32_t, std::uint32_t> children;
  std::vector<Row> rows;
  rows.reserve(infos.size());
  std::uint64_t live_handled = 0;
  for (auto& info : infos) {
    live_handled += info.handled;
    Seen now_seen{info.handled, info.mailbox_depth, 0};
    std::uint32_t delta = info.handled;  // a new actor: all it handled is new
    if (auto it = seen_.find(info.id); it != seen_.end()) {
      delta = info.handled - it->second.handled;  // mod 2^32, like the counter
      if (info.mailbox_depth > it->second.depth) {
        now_seen.streak = it->second.streak + 1;
      } else if (info.mailbox_depth == it->second.depth && info.mailbox_depth > 0) {
        now_seen.streak = it->second.streak;
      }
    }
    if (info.parent != 0) ++children[info.parent];
    Row row;
    row.rate = delta / seconds;
    row.growing = now_seen.streak >= kGrowthSamples;
    seen.emplace(info.id, now_seen);
    row.info = std::move(info);
    rows.push_back(std::move(row));
  }
  for (auto& row : rows) {
    if (auto it = children.find(row.info.id); it != children.end()) row.children = it->second;
  }
  // Exact: what ended actors handled plus what the live ones have (each actor's count is
  // 32 bits: one actor past 2^32 messages wraps). Never reported lower than before.
  std::uint64_t before = handled_total_;
  handled_total_ = std::max(handled_total_, stats_.handled_by_ended + live_handled);
  handled_rate_ = static_cast<double>(handled_total_ - before) / seconds;

  std::vector<double> busy = probe::worker_busy_seconds(*system_);
  busy_.resize(busy.size(), 0.0);
  utilisation_.assign(busy.size(), 0.0);
  for (std::size_t i = 0; i < busy.size(); ++i) {
    double b = std::max(busy_[i], busy[i]);  // a racy read may dip: counters never do
    utilisation_[i] = std::clamp((b - busy_[i]) / seconds, 0.0, 1.0);
    busy_[i] = b;
  }
  asks_ = probe::ask_latency(*system_);
  extra_ = probe::collect_metrics(*system_);
  update_cluster(seconds);
  rows_ = std::move(rows);
  seen_ = std::move(seen);
  taken_ = now;
  cost_ = std::chrono::steady_clock::now() - now;
  have_snapshot_ = true;
  ++snapshots_;
}

std::string Model::metrics(std::size_t max_series) const {
  std::string out;
  out.reserve(4096);
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    family(name, "counter", help);
    out += fmt::format("{} {}\n", name, value);
  };
  counter("troupe_messages_handled_total",
          "Messages handled by actors (summed from per-actor counts at each scrape).",
          handled_total_);
  counter("troupe_dead_letters_total", "Messages that reached no handler.", stats_.dead_letters);
  counter("troupe_spawned_total", "Actors ever spawned.", stats_.spawned);
  counter("troupe_failures_total", "Exceptions that escaped handlers, whatever the policy.",
          stats_.failures);
  counter("troupe_restarts_total", "Actors rebuilt by the restart policy.", stats_.restarts);
  counter("troupe_refusals_total", "Requests handlers refused (troupe::Refused).",
          stats_.refusals);
  counter("troupe_worker_sleeps_total", "Times an idle worker went to sleep (parks).",
          stats_.worker_sleeps);
  counter("troupe_wakeups_total", "Times a sleeping worker was woken for work.", stats_.wakeups);
  counter("troupe_steals_total", "Work an idle worker took that another had queued.",
          stats_.steals);
  counter("troupe_asker_turns_total", "Asks answered on the plain thread waiting in get().",
          stats_.asker_turns);

  family("troupe_actors", "gauge", "Live actors, by state.");
  std::size_t by_state[3] = {0, 0, 0};
  std::uint64_t depth_sum = 0;
  for (const auto& r : rows_) {
    ++by_state[static_cast<int>(r.info.state)];
    depth_sum += r.info.mailbox_depth;
  }
  out += fmt::format("troupe_actors{{state=\"idle\"}} {}\n", by_state[0]);
  out += fmt::format("troupe_actors{{state=\"scheduled\"}} {}\n", by_state[1]);
  out += fmt::format("troupe_actors{{state=\"stopped\"}} {}\n", by_state[2]);
  family("troupe_workers", "gauge", "Worker threads in the pool.");
  out += fmt::format("troupe_workers {}\n", system_->workers());
  family("troupe_mailbox_messages", "gauge", "Messages queued in all mailboxes.");
  out += fmt::format("troupe_mailbox_messages {}\n", depth_sum);

  // The deepest mailboxes get a series each; the rest are one "other" series, so that the
  // number of series stays bounded whatever the number of actors.
  family("troupe_mailbox_depth", "gauge",
         "Messages queued per actor: the deepest mailboxes by name, the rest summed as "
         "actor=\"other\".");
  std::vector<const Row*> deepest;
  deepest.reserve(rows_.size());
  for (const auto& r : rows_) deepest.push_back(&r);
  std::size_t shown = std::min(max_series, deepest.size());
  std::partial_sort(deepest.begin(), deepest.begin() + static_cast<std::ptrdiff_t>(shown),
                    deepest.end(), [](const Row* a, const Row* b) {
                      if (a->info.mailbox_depth != b->info.mailbox_depth) {
                        return a->info.mailbox_depth > b->info.mailbox_depth;
                      }
                      return a->info.id < b->info.id;
                    });
  std::uint64_t other = 0;
  for (std::size_t i = 0; i < deepest.size(); ++i) {
    if (i < shown) {
      out += fmt::format("troupe_mailbox_depth{{actor=\"{}\"}} {}\n", label(deepest[i]->info.name),
                         deepest[i]->info.mailbox_depth);
    } else {
      other += deepest[i]->info.mailbox_depth;
    }
  }
  out += fmt::format("troupe_mailbox_depth{{actor=\"other\"}} {}\n", other);

  family("troupe_worker_busy_seconds_total", "counter",
         "Seconds each worker spent running turns (not looking for work or asleep).");
  for (std::size_t i = 0; i < busy_.size(); ++i) {
    out += fmt::format("troupe_worker_busy_seconds_total{{worker=\"{}\"}} {:.6f}\n", i, busy_[i]);
  }
  family("troupe_timers_pending", "gauge",
         "Timers in the timer service (after, every); a cancelled one stays until its due time.");
  out += fmt::format("troupe_timers_pending {}\n", stats_.timers_pending);

  family("troupe_ask_latency_seconds", "histogram",
         "From an ask's send to its answer; one ask in 8 is timed while the observer is "
         "attached.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < probe::AskLatency::kBounds.size(); ++i) {
    cumulative += asks_.counts[i];
    out += fmt::format("troupe_ask_latency_seconds_bucket{{le=\"{}\"}} {}\n",
                       probe::AskLatency::kBounds[i], cumulative);
  }
  out += fmt::format("troupe_ask_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", asks_.count);
  out += fmt::format("troupe_ask_latency_seconds_sum {:.9f}\n", asks_.sum_seconds);
  out += fmt::format("troupe_ask_latency_seconds_count {}\n", asks_.count);

  family("troupe_observer_snapshots_total", "counter", "Snapshots of the registry the observer took.");
  out += fmt::format("troupe_observer_snapshots_total {}\n", snapshots_);

  // Other libraries' series (troupe-remote's per-peer counters), grouped into families.
  // Read now, not at the last snapshot: a scrape gets the sources' current values.
  std::vector<probe::Metric> extra = probe::collect_metrics(*system_);
  std::stable_sort(extra.begin(), extra.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  const std::string* last = nullptr;
  for (const auto& m : extra) {
    if (!valid_name(m.name) || m.name.rfind("troupe_", 0) != 0) continue;
    if (last == nullptr || *last != m.name) {
      std::string help = label(m.help);
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, help, m.name,
                         m.counter ? "counter" : "gauge");
      last = &m.name;
    }
    out += m.name;
    if (!m.labels.empty()) {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : m.labels) {
        if (!valid_name(k)) continue;
        if (!first) out += ',';
        first = false;
        out += fmt::format("{}=\"{}\"", k, label(v));
      }
      out += '}';
    }
    out += fmt::format(" {}\n", m.value);
  }
  return out;
}

void Model::start_window() {
  if (in_window_) return;
  sampling_ = true;
  in_window_ = true;
  probe::take_send_samples(*system_);  // nothing should be left; make sure
  probe::sample_sends(*system_, true);
  window_start_ = std::chrono::steady_clock::now();
}

void Model::end_window() {
  if (!in_window_) return;
  probe::sample_sends(*system_, false);
  in_window_ = false;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start_).count();
  windows_.push_back(Window{std::max(seconds, 1e-3), probe::take_send_samples(*system_)});
  if (windows_.size() > kWindowsKept) windows_.pop_front();
  std::unordered_map<std::uint64_t, std::uint64_t> counts;
  double sampled = 0;
  for (const auto& w : windows_) {
    sampled += w.seconds;
    for (const auto& sample : w.samples) {
      counts[(static_cast<std::uint64_t>(sample.from) << 32) | sample.to] += sample.count;
    }
  }
  edges_.clear();
  for (auto [key, count] : counts) {
    // One send in 16 is sampled (probe::sample_sends), during `sampled` seconds.
    edges_.push_back(Edge{static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>(key),
                          static_cast<double>(count) * 16 / sampled});
  }
  std::sort(edges_.begin(), edges_.end(), [](const Edge& a, const Edge& b) {
    return a.rate != b.rate ? a.rate > b.rate : (a.from != b.from ? a.from < b.from : a.to < b.to);
  });
  if (edges_.size() > 60) edges_.resize(60);
}

void Model::stop_sampling() {
  end_window();
  sampling_ = false;
  edges_.clear();
  windows_.clear();
}

namespace {

/// The label `key` of a series, or "".
std::string label_of(const probe::Metric& m, std::string_view key) {
  for (const auto& [k, v] : m.labels) {
    if (k == key) return v;
  }
  return {};
}

/// "troupe_remote_sent_total" -> "sent" (with prefix "troupe_remote_").
std::string short_name(const std::string& name, std::string_view prefix) {
  std::string key = name.substr(prefix.size());
  if (key.size() > 6 && key.compare(key.size() - 6, 6, "_total") == 0) key.resize(key.size() - 6);
  return key;
}

/// Per second from `before` to `now` over `seconds`; 0 for a counter that started again.
double per_second(double before, double now, double seconds) {
  return now >= before ? (now - before) / seconds : 0.0;
}

double value_or(const std::map<std::string, double>& values, const std::string& key, double d) {
  auto it = values.find(key);
  return it == values.end() ? d : it->second;
}

}  // namespace

void Model::update_cluster(double seconds) {
  // Rows by (node, peer) from troupe-remote's series (remote/src/node.cpp), by queue name
  // from ClusterQueue's (remote/src/cluster_queue.cpp); with neither, nothing.
  constexpr std::string_view kRemote = "troupe_remote_";
  constexpr std::string_view kQueue = "troupe_cluster_queue_";
  std::uint64_t now = snapshots_ + 1;
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> peer_values;
  std::map<std::string, std::map<std::string, double>> queue_values;
  std::map<std::pair<std::string, std::string>, std::string> incarnations;
  for (const auto& m : extra_) {
    if (m.name.rfind(kRemote, 0) == 0) {
      std::string node = label_of(m, "node"), peer = label_of(m, "peer");
      std::string key = short_name(m.name, kRemote);
      if (peer.empty()) {
        if (key == "heartbeat_period_seconds") timing_[node].first = m.value;
        if (key == "down_after_seconds") timing_[node].second = m.value;
        continue;
      }
      peer_values[{node, peer}][key] = m.value;
      if (auto inc = label_of(m, "incarnation"); !inc.empty()) incarnations[{node, peer}] = inc;
    } else if (m.name.rfind(kQueue, 0) == 0) {
      std::string queue = label_of(m, "queue"), outcome = label_of(m, "outcome");
      std::string key = short_name(m.name, kQueue);
      if (!outcome.empty()) key += "_" + outcome;
      if (!queue.empty()) queue_values[queue][key] = m.value;
    }
  }
  for (auto& [key, values] : peer_values) {
    Peer& p = peers_[key];
    bool known = !p.values.empty() && p.seen + 1 == now;  // also at the last snapshot
    p.sent_rate = known ? per_second(value_or(p.values, "sent", 0), value_or(values, "sent", 0), seconds) : 0;
    p.received_rate =
        known ? per_second(value_or(p.values, "received", 0), value_or(values, "received", 0), seconds) : 0;
    p.values = std::move(values);
    if (auto it = incarnations.find(key); it != incarnations.end()) p.incarnation = it->second;
    p.rates.emplace_back(p.sent_rate, p.received_rate);
    if (p.rates.size() > kClusterHistory) p.rates.pop_front();
    p.seen = now;
  }
  std::erase_if(peers_, [&](const auto& e) { return e.second.seen != now; });
  for (auto& [name, values] : queue_values) {
    Queue& q = queues_[name];
    bool known = q.seen + 1 == now && values.count("done") != 0 && q.values.count("done") != 0;
    q.done_rate = known ? per_second(q.values["done"], values["done"], seconds) : 0;
    q.put_rate = known ? per_second(value_or(q.values, "stored", 0), value_or(values, "stored", 0), seconds) : 0;
    q.values = std::move(values);
    q.history.emplace_back(value_or(q.values, "items", 0), q.done_rate);
    if (q.history.size() > kClusterHistory) q.history.pop_front();
    q.seen = now;
  }
  std::erase_if(queues_, [&](const auto& e) { return e.second.seen != now; });
}

nlohmann::json Model::cluster_json() const {
  auto round3 = [](double v) { return std::round(v * 1000) / 1000; };
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& [key, p] : peers_) {
    nlohmann::json row = {{"node", utf8_safe(key.first)}, {"peer", utf8_safe(key.second)}};
    for (const auto& [k, v] : p.values) row[k] = v;
    if (!p.incarnation.empty()) row["incarnation"] = utf8_safe(p.incarnation);
    // up, suspected (heard from too long ago, not declared down yet), down.
    std::string state = value_or(p.values, "peer_up", 1) == 0 ? "down" : "up";
    double period = 0, down_after = 0;
    if (auto it = timing_.find(key.first); it != timing_.end()) {
      std::tie(period, down_after) = it->second;
    }
    double age = value_or(p.values, "heartbeat_age_seconds", 0);
    if (state == "up" && period > 0 && age > kSuspectAfterBeats * period) state = "suspected";
    row["state"] = state;
    if (period > 0) row["heartbeat_period_seconds"] = period;
    if (down_after > 0) row["down_after_seconds"] = down_after;
    row["sent_rate"] = std::round(p.sent_rate * 10) / 10;
    row["received_rate"] = std::round(p.received_rate * 10) / 10;
    nlohmann::json sent = nlohmann::json::array(), received = nlohmann::json::array();
    for (auto [s, r] : p.rates) {  // to one decimal, as the current rates
      sent.push_back(std::round(s * 10) / 10);
      received.push_back(std::round(r * 10) / 10);
    }
    row["history"] = {{"sent", std::move(sent)}, {"received", std::move(received)}};
    peers.push_back(std::move(row));
  }
  nlohmann::json queues = nlohmann::json::array();
  for (const auto& [name, q] : queues_) {
    nlohmann::json row = {{"queue", utf8_safe(name)}};
    for (const auto& [k, v] : q.values) row[k] = k.find("seconds") != std::string::npos ? round3(v) : v;
    row["done_rate"] = std::round(q.done_rate * 10) / 10;
    row["put_rate"] = std::round(q.put_rate * 10) / 10;
    nlohmann::json items = nlohmann::json::array(), done = nlohmann::json::array();
    for (auto [i, d] : q.history) {
      items.push_back(i);
      done.push_back(std::round(d * 10) / 10);
    }
    row["history"] = {{"items", std::move(items)}, {"done_rate", std::move(done)}};
    queues.push_back(std::move(row));
  }
  return {{"peers", std::move(peers)}, {"queues", std::move(queues)}};
}

nlohmann::json Model::graph_json() const {
  std::unordered_map<std::uint32_t, const Row*> wanted;
  for (const auto& e : edges_) {
    wanted.emplace(e.from, nullptr);
    wanted.emplace(e.to, nullptr);
  }
  for (const auto& r : rows_) {
    if (auto it = wanted.find(r.info.id); it != wanted.end()) it->second = &r;
  }
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& [id, row] : wanted) {
    std::string name = id == 0          ? "(outside)"
                       : row != nullptr ? row->info.name
                                        : "#" + std::to_string(id) + " (ended)";
    if (name.empty() && row != nullptr) name = row->info.type + "#" + std::to_string(id);
    nodes.push_back({{"id", id},
                     {"name", utf8_safe(name)},
                     {"type", row != nullptr ? utf8_safe(row->info.type) : ""},
                     {"alive", id == 0 || row != nullptr}});
  }
  nlohmann::json edges = nlohmann::json::array();
  for (const auto& e : edges_) {
    edges.push_back({{"from", e.from}, {"to", e.to}, {"rate", std::round(e.rate * 10) / 10}});
  }
  return {{"sampling", sampling_}, {"every", 16}, {"nodes", std::move(nodes)},
          {"edges", std::move(edges)}};
}

nlohmann::json Model::stats_json() const {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return {{"spawned", stats_.spawned},
          {"dead_letters", stats_.dead_letters},
          {"worker_sleeps", stats_.worker_sleeps},
          {"wakeups", stats_.wakeups},
          {"steals", stats_.steals},
          {"asker_turns", stats_.asker_turns},
          {"failures", stats_.failures},
          {"restarts", stats_.restarts},
          {"refusals", stats_.refusals},
          {"timers_pending", stats_.timers_pending},
          {"asks_timed", asks_.count},
          {"handled", handled_total_},
          {"handled_rate", std::round(handled_rate_ * 10) / 10},
          {"actors", live_},
          {"workers", system_->workers()},
          {"pid", static_cast<long>(::getpid())},
          {"host", utf8_safe(host)},
          {"uptime_seconds",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()}};
}

void Model::record_history() {
  if (!have_snapshot_) return;
  double t = std::chrono::duration<double>(taken_ - started_).count();
  if (!history_.empty() && history_.back().t == t) return;  // no new snapshot since
  double busy = 0;
  for (double u : utilisation_) busy += u;
  if (!utilisation_.empty()) busy /= static_cast<double>(utilisation_.size());
  history_.push_back(Point{t, handled_total_, stats_.dead_letters, stats_.failures,
                           stats_.restarts, live_, busy});
  if (history_.size() > kHistory) history_.pop_front();
}

nlohmann::json Model::actors_json(const Query& q) const {
  std::vector<const Row*> picked;
  picked.reserve(rows_.size());
  for (const auto& r : rows_) {
    if (q.parent >= 0 && r.info.parent != static_cast<std::uint32_t>(q.parent)) continue;
    if (!q.state.empty() && q.state != state_name(r.info.state)) continue;
    if (q.growing_only && !r.growing) continue;
    if (!q.text.empty() && !contains_folded(r.info.name, q.text) &&
        !contains_folded(r.info.type, q.text)) {
      continue;
    }
    picked.push_back(&r);
  }
  std::size_t limit = std::min(q.limit, kMaxLimit);
  std::size_t begin = std::min(q.offset, picked.size());
  std::size_t end = std::min(picked.size(), begin + limit);
  auto less = order_by(q.sort, q.descending);
  // Only the rows of the page need their place: a partial sort up to its end.
  std::partial_sort(picked.begin(), picked.begin() + static_cast<std::ptrdiff_t>(end),
                    picked.end(), less);
  nlohmann::json page = nlohmann::json::array();
  for (std::size_t i = begin; i < end; ++i) page.push_back(row_json(*picked[i]));

  // Aggregates over every actor (not just the filtered ones): by type, busiest, growing.
  struct TypeSum {
    std::size_t count = 0;
    std::uint64_t depth = 0, handled = 0, failures = 0, restarts = 0;
    double rate = 0;
  };
  std::map<std::string, TypeSum> types;
  std::vector<const Row*> busiest, growing;
  for (const auto& r : rows_) {
    TypeSum& t = types[r.info.type];
    ++t.count;
    t.depth += r.info.mailbox_depth;
    t.handled += r.info.handled;
    t.failures += r.info.failures;
    t.restarts += r.info.restarts;
    t.rate += r.rate;
    if (r.rate > 0) busiest.push_back(&r);
    if (r.growing) growing.push_back(&r);
  }
  std::vector<std::pair<std::string, TypeSum>> type_list(types.begin(), types.end());
  std::sort(type_list.begin(), type_list.end(), [](const auto& a, const auto& b) {
    return a.second.count != b.second.count ? a.second.count > b.second.count : a.first < b.first;
  });
  if (type_list.size() > 50) type_list.resize(50);
  nlohmann::json type_json = nlohmann::json::array();
  for (const auto& [name, t] : type_list) {
    type_json.push_back({{"type", utf8_safe(name)}, {"count", t.count}, {"depth", t.depth},
                         {"handled", t.handled}, {"rate", std::round(t.rate * 10) / 10},
                         {"failures", t.failures}, {"restarts", t.restarts}});
  }
  auto top = [](std::vector<const Row*>& v, auto key, std::size_t n) {
    std::size_t k = std::min(n, v.size());
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end(),
                      [&](const Row* a, const Row* b) { return key(*a) > key(*b); });
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < k; ++i) out.push_back(row_json(*v[i]));
    return out;
  };
  return {{"total", picked.size()},
          {"live", rows_.size()},
          {"offset", begin},
          {"limit", limit},
          {"actors", std::move(page)},
          {"types", std::move(type_json)},
          {"busiest", top(busiest, [](const Row& r) { return r.rate; }, 10)},
          {"growing", top(growing, [](const Row& r) { return r.info.mailbox_depth; }, 10)},
          {"stats", stats_json()},
          {"workers", [&] {
             nlohmann::json w = nlohmann::json::array();
             for (std::size_t i = 0; i < busy_.size(); ++i) {
               w.push_back({{"busy_seconds", std::round(busy_[i] * 1000) / 1000},
                            {"utilisation", std::round(utilisation_[i] * 1000) / 1000}});
             }
             return w;
           }()},
          {"graph", graph_json()},
          {"cluster", cluster_json()},
          {"history", [&] {
             // Columns, not rows: five arrays of numbers are a third the size.
             nlohmann::json h = {{"t", nlohmann::json::array()}, {"handled", nlohmann::json::array()},
                                 {"dead_letters", nlohmann::json::array()},
                                 {"failures", nlohmann::json::array()},
                                 {"restarts", nlohmann::json::array()},
                                 {"actors", nlohmann::json::array()},
                                 {"busy", nlohmann::json::array()}};
             for (const auto& p : history_) {
               h["t"].push_back(std::round(p.t * 1000) / 1000);
               h["handled"].push_back(p.handled);
               h["dead_letters"].push_back(p.dead_letters);
               h["failures"].push_back(p.failures);
               h["restarts"].push_back(p.restarts);
               h["actors"].push_back(p.actors);
               h["busy"].push_back(std::round(p.busy * 1000) / 1000);
             }
             return h;
           }()}};
}

}  // namespace troupe::observe
