// remote/src/fencing.cpp - a node the cluster declared down stays down: when it hears so
// (it was frozen or cut off), it rejoins as a new incarnation with new subjects, dropping its
// names and failing its pending asks. The receiving side of fencing is in inbound.cpp.
#include <vector>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"

namespace troupe::detail::remote {

void NodeCore::rejoin() {
  std::uint64_t old = incarnation.load();
  std::uint64_t now_inc = fresh_incarnation();
  std::vector<MemberSink> copy;
  {
    std::lock_guard lock(mu);
    if (closing) return;
    previous_incarnation = old;
    incarnation = now_inc;
    ++fenced;
    for (auto& [n, sub] : name_subs) natsSubscription_Unsubscribe(sub);
    name_subs.clear();
    published.clear();
    // The old incarnation's entries in the name table: released unless someone has
    // taken them over already (the revision check).
    for (auto& [n, revision] : name_revisions) name_table.release_later(n, revision);
    name_revisions.clear();
    remote_watchers.clear();
    for (auto* sub : {data_sub, reply_sub}) {
      int64_t d = 0;
      natsSubscription_GetDropped(sub, &d);
      retired_drops += d;
      natsSubscription_Unsubscribe(sub);
    }
    data_sub = subscribe(conn, data_subject(name, now_inc), on_bulk);
    reply_sub = subscribe(conn, reply_prefix(now_inc) + ".*", on_bulk);
    copy = sinks;
  }
  log("this node was declared down as incarnation %s (frozen or cut off); rejoined as %s; its "
      "names were dropped",
      hex(old).c_str(), hex(now_inc).c_str());
  fail_all(
      [](const Pending&) { return true; },
      [](const Pending&) {
        return std::make_exception_ptr(NodeDown(
            "this node was declared down by the cluster (fenced) while the ask was in flight"));
      });
  for (auto& s : copy) {
    if (s.fenced) s.fenced(Fenced{old, now_inc});
  }
}

}  // namespace troupe::detail::remote
