// tests/remote/names.test.cpp - names agreed cluster-wide in NATS JetStream's key-value
// bucket (remote/src/names.cpp, remote/src/name_store.cpp), against a real nats-server -js
// the tests start, with the contending nodes as separate OS processes (node_main contend).
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nats/nats.h>

#include "../support.hpp"
#include "cluster.hpp"
#include "test_actors.hpp"
#include <troupe/remote.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;
using namespace remote_test;
using support::eventually;

namespace {

const std::string kNodeMain = TROUPE_NODE_MAIN;

troupe::NodeOptions agreed(const cluster::NatsServer& nats, std::string name) {
  troupe::NodeOptions o;
  o.urls = {nats.url()};
  o.cluster = "test";
  o.name = std::move(name);
  o.names = troupe::NameRegistry::jetstream;
  return o;
}

/// The name table seen with raw cnats, as another tool would: the cluster "test"'s bucket.
class RawTable {
 public:
  explicit RawTable(const cluster::NatsServer& nats) {
    REQUIRE(natsConnection_ConnectTo(&nc_, nats.url().c_str()) == NATS_OK);
    REQUIRE(natsConnection_JetStream(&js_, nc_, nullptr) == NATS_OK);
    REQUIRE(js_KeyValue(&kv_, js_, "troupe_names_test") == NATS_OK);
  }
  ~RawTable() {
    kvStore_Destroy(kv_);
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  /// The value held under `key`, or "" if there is none.
  std::string value(const std::string& key) {
    kvEntry* e = nullptr;
    if (kvStore_Get(&e, kv_, key.c_str()) != NATS_OK) return "";
    std::string v(static_cast<const char*>(kvEntry_Value(e)),
                  static_cast<std::size_t>(kvEntry_ValueLen(e)));
    kvEntry_Destroy(e);
    return v;
  }
  void put(const std::string& key, const std::string& v) {
    std::uint64_t rev = 0;
    REQUIRE(kvStore_PutString(&rev, kv_, key.c_str(), v.c_str()) == NATS_OK);
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
};

/// The next line of `p` that starts with one of `prefixes` (DOWN lines are skipped), or "".
std::string answer(cluster::Process& p, const std::vector<std::string>& prefixes) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto l = p.line(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!l) return "";
    for (auto& prefix : prefixes) {
      if (l->rfind(prefix, 0) == 0) return *l;
    }
  }
  return "";
}

/// Each of `nodes` publishes "leader" at once; returns the index of the one that won
/// (checking that exactly one did) and that every lookup names it.
std::size_t contend(std::vector<std::unique_ptr<cluster::Process>>& nodes,
                    const std::vector<std::string>& names) {
  for (auto& n : nodes) n->write_line("publish");  // back to back: the same moment
  std::vector<std::size_t> winners;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto said = answer(*nodes[i], {"WON", "TAKEN", "ERROR"});
    INFO("node " << names[i] << " said: " << said);
    CHECK((said == "WON" || said.rfind("TAKEN ", 0) == 0));
    if (said == "WON") winners.push_back(i);
  }
  REQUIRE(winners.size() == 1);
  for (auto& n : nodes) n->write_line("lookup");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto said = answer(*nodes[i], {"HOLDER", "NOHOLDER", "ERROR"});
    INFO("node " << names[i] << " said: " << said);
    CHECK(said == "HOLDER " + names[winners[0]]);
  }
  return winners[0];
}

}  // namespace

TEST_CASE(
    "of nodes publishing one name at the same moment exactly one wins and every lookup agrees; "
    "once the winner is killed the name is released and won again by exactly one") {
  cluster::NatsServer nats(cluster::JetStream::on);
  const int kNodes = 5;
  std::vector<std::unique_ptr<cluster::Process>> nodes;
  std::vector<std::string> names;
  for (int i = 0; i < kNodes; ++i) {
    names.push_back("contender" + std::to_string(i));
    nodes.push_back(std::make_unique<cluster::Process>(
        std::vector<std::string>{kNodeMain, "contend", nats.url(), names.back(), "2000"}));
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto ready = nodes[i]->wait_for("READY");
    INFO("node " << names[i] << " said: " << ready);
    REQUIRE(ready.rfind("READY ", 0) == 0);
  }

  std::size_t first = contend(nodes, names);
  RawTable table(nats);
  CHECK(table.value("leader").rfind(names[first] + " ", 0) == 0);

  // SIGKILL the winner: the others declare it down, one of them releases its name.
  nodes[first]->signal(SIGKILL);
  nodes[first]->wait_exit(5s);
  nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(first));
  std::string gone = names[first];
  names.erase(names.begin() + static_cast<std::ptrdiff_t>(first));
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto down = nodes[i]->wait_for("DOWN " + gone, 10s);
    INFO("node " << names[i] << " said: " << down);
    REQUIRE(down == "DOWN " + gone);
  }
  CHECK(eventually([&] { return table.value("leader").empty(); }, 5s));

  std::size_t second = contend(nodes, names);
  CHECK(names[second] != gone);
  CHECK(table.value("leader").rfind(names[second] + " ", 0) == 0);
}

TEST_CASE(
    "a name held by a live actor on another node is refused, and can be taken once its holder "
    "unpublishes it or leaves") {
  cluster::NatsServer nats(cluster::JetStream::on);
  troupe::System system({.workers = 2});
  troupe::Node b(system, agreed(nats, "b"));
  REQUIRE(b.names_agreed());
  RawTable table(nats);
  {
    troupe::Node a(system, agreed(nats, "a"));
    a.publish<CounterProtocol>(system.spawn<Counter>(), "x");
    CHECK(table.value("x").rfind("a ", 0) == 0);
    CHECK_THROWS_AS(b.publish<CounterProtocol>(system.spawn<Counter>(), "x"), troupe::NameTaken);
    CHECK(b.lookup<CounterProtocol>("x").get(10s).node() == "a");

    a.unpublish("x");
    CHECK(table.value("x").empty());
    b.publish<CounterProtocol>(system.spawn<Counter>(), "x");
    CHECK(a.lookup<CounterProtocol>("x").get(10s).node() == "b");
    CHECK_THROWS_AS(a.publish<CounterProtocol>(system.spawn<Counter>(), "x"), troupe::NameTaken);

    a.publish<CounterProtocol>(system.spawn<Counter>(), "y");
    CHECK(table.value("y").rfind("a ", 0) == 0);
  }  // a leaves: its names are released
  CHECK(table.value("y").empty());
  b.publish<CounterProtocol>(system.spawn<Counter>(), "y");
  CHECK(table.value("y").rfind("b ", 0) == 0);
}

TEST_CASE("an entry in the name table that no node wrote is taken over, not trusted") {
  cluster::NatsServer nats(cluster::JetStream::on);
  troupe::System system({.workers = 2});
  troupe::Node node(system, agreed(nats, "a"));
  RawTable table(nats);
  table.put("junk", "\x01\x02 not a holder");
  table.put("ghost", "nobody 00000000000000ff");  // well formed: a node never heard of
  node.publish<CounterProtocol>(system.spawn<Counter>(), "junk");
  CHECK(table.value("junk").rfind("a ", 0) == 0);
  node.publish<CounterProtocol>(system.spawn<Counter>(), "ghost");  // after down_after
  CHECK(table.value("ghost").rfind("a ", 0) == 0);
  CHECK(node.lookup<CounterProtocol>("ghost").get(10s).node() == "a");
}

TEST_CASE("a node that needs agreed names is refused with a clear error by a server without "
          "JetStream; by default it falls back to best effort") {
  cluster::NatsServer nats;  // no -js
  troupe::System system({.workers = 2});
  auto opts = agreed(nats, "a");
  opts.connect_timeout = 1000ms;
  try {
    troupe::Node node(system, opts);
    FAIL("the node joined");
  } catch (const troupe::ConnectError& e) {
    std::string what = e.what();
    INFO(what);
    CHECK(what.find("JetStream") != std::string::npos);
    CHECK(what.find("-js") != std::string::npos);
  }
  opts.names = troupe::NameRegistry::automatic;
  opts.log_drops = false;
  troupe::Node node(system, opts);
  CHECK_FALSE(node.names_agreed());
  node.publish<CounterProtocol>(system.spawn<Counter>(), "x");
  CHECK(node.lookup<CounterProtocol>("x").get(10s).node() == "a");
}
