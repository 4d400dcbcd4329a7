// model.hpp - what the observer knows of a system between requests: the last snapshot,
// per-actor rates and trends, and the renderings of it (Prometheus text, JSON). Touched by
// the HTTP thread only. Not installed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "troupe/options.hpp"
#include "troupe/probe.hpp"
#include "troupe/system.hpp"

namespace troupe::observe {

/// One actor of the latest snapshot, with what two snapshots tell.
struct Row {
  ActorInfo info;
  double rate = 0;           ///< messages handled per second since the previous snapshot
  bool growing = false;      ///< mailbox deeper at each of the last kGrowthSamples snapshots
  std::uint32_t children = 0;  ///< live actors it spawned
};

/// The query of /actors.json.
struct Query {
  std::size_t limit = 200;
  std::size_t offset = 0;
  std::string sort = "id";  ///< id name type state depth handled rate failures restarts daemon children
  bool descending = false;
  std::string text;          ///< case-insensitive substring of the name or the type
  std::string state;         ///< "", "idle", "scheduled", "stopped"
  long parent = -1;          ///< only the children of this id (0: top level); -1: all
  bool growing_only = false;
};

class Model {
 public:
  static constexpr int kGrowthSamples = 3;
  static constexpr std::size_t kMaxLimit = 1000;

  explicit Model(System& system);

  /// Takes a new snapshot unless the last is younger than `min_age`.
  void refresh(std::chrono::milliseconds min_age = std::chrono::milliseconds(500));

  /// Prometheus text exposition format 0.0.4, `max_series` per-actor depth series at most.
  std::string metrics(std::size_t max_series) const;
  nlohmann::json stats_json() const;
  nlohmann::json actors_json(const Query& q) const;

  /// Keeps a point of the charts' history (one a second, the last kHistory) from the
  /// latest snapshot.
  void record_history();
  static constexpr std::size_t kHistory = 300;

  /// Sampling sends is worth its cost only while someone looks at the graph, and then
  /// only in short windows: start_window switches it on, end_window off, and makes the
  /// graph of what the window sampled. stop_sampling ends it for good (the page closed).
  void start_window();
  void end_window();
  void stop_sampling();
  bool sampling() const { return sampling_; }

 private:
  struct Seen {
    std::uint32_t handled = 0;
    std::uint32_t depth = 0;
    int streak = 0;  // consecutive snapshots in which the depth rose
  };

  System* system_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point taken_{};
  std::chrono::steady_clock::duration cost_{};  // how long the last snapshot took
  bool have_snapshot_ = false;
  std::vector<Row> rows_;
  SystemStats stats_{};
  std::size_t live_ = 0;
  // Messages handled, summed over actors from snapshot to snapshot (an actor's handled
  // count is read at each snapshot; what an actor handled after the last snapshot before
  // it ended is not seen: the runtime keeps no system-wide total).
  std::uint64_t handled_total_ = 0;
  double handled_rate_ = 0;
  std::uint64_t snapshots_ = 0;
  std::unordered_map<std::uint32_t, Seen> seen_;
  struct Point {
    double t;  // seconds since the observer started
    std::uint64_t handled, dead_letters, failures, restarts;
    std::size_t actors;
    double busy;  // mean worker utilisation, 0-1
  };
  std::deque<Point> history_;

  // -- workers: busy seconds as read (never reported lower than before) and utilisation --
  std::vector<double> busy_;
  std::vector<double> utilisation_;  // busy share of each worker since the last snapshot
  probe::AskLatency asks_{};
  // -- who sends to whom: sampled sends per (from, to) over the last window ----------------
  struct Edge {
    std::uint32_t from, to;
    double rate;  // sends per second (estimated from the samples)
  };
  std::vector<Edge> edges_;
  // The last few windows' samples: a pair that sends a few hundred times a second has a
  // sample or two in one window, and should not blink in and out of the graph.
  struct Window {
    double seconds;
    std::vector<probe::SendSample> samples;
  };
  std::deque<Window> windows_;
  static constexpr std::size_t kWindowsKept = 5;
  std::chrono::steady_clock::time_point window_start_{};
  bool sampling_ = false;  // windows run (the page is open)
  bool in_window_ = false;
  nlohmann::json graph_json() const;

  // -- the cluster: other libraries' series, read once a snapshot ---------------------------
  std::vector<probe::Metric> extra_;  // every metrics source's series, at the last snapshot
  /// A peer node as troupe-remote's Node reports it (troupe_remote_* series).
  struct Peer {
    std::map<std::string, double> values;  // series name less prefix and _total -> value
    std::string incarnation;
    double sent_rate = 0, received_rate = 0;  // frames per second since the last snapshot
    std::deque<std::pair<double, double>> rates;  // the last kClusterHistory (sent, received)
    std::uint64_t seen = 0;                     // the snapshot that last reported it
  };
  std::map<std::pair<std::string, std::string>, Peer> peers_;  // by (node, peer)
  /// A node's failure detector settings: heartbeat period, down_after (seconds).
  std::map<std::string, std::pair<double, double>> timing_;
  /// A ClusterQueue as it reports itself (troupe_cluster_queue_* series).
  struct Queue {
    std::map<std::string, double> values;
    double done_rate = 0, put_rate = 0;  // items per second, the cluster's
    std::deque<std::pair<double, double>> history;  // the last kClusterHistory (items, done/s)
    std::uint64_t seen = 0;
  };
  std::map<std::string, Queue> queues_;
  static constexpr std::size_t kClusterHistory = 120;
  void update_cluster(double seconds);

 public:
  /// A peer whose heartbeat is older than this many heartbeat periods, not yet declared
  /// down, is shown as suspected.
  static constexpr double kSuspectAfterBeats = 2;
  /// Peer nodes (state, rates) and cluster queues from other libraries' series.
  nlohmann::json cluster_json() const;
};

}  // namespace troupe::observe
