// remote/src/asks.cpp - asks and lookups this node made: pending until answered, failed
// or timed out; and the replies this node sends to asks it received.
#include <string>
#include <utility>
#include <vector>

#include "internal/identity.hpp"
#include "internal/node_core.hpp"
#include "internal/wire_error.hpp"

namespace troupe::detail::remote {

void NodeCore::fail(std::uint64_t id, std::exception_ptr error) {
  Pending p;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(id);
    if (it == pending.end()) return;
    p = std::move(it->second);
    pending.erase(it);
  }
  ++asks_failed;
  if (p.found) {
    p.found({}, error);
  } else {
    p.done({}, error);
  }
}

void NodeCore::expire_asks(SteadyClock::time_point now) {
  std::vector<std::uint64_t> due;
  {
    std::lock_guard lock(mu);
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      due.push_back(deadlines.begin()->second);
      deadlines.erase(deadlines.begin());
    }
  }
  for (auto id : due) {
    std::string what;
    {
      std::lock_guard lock(mu);
      auto it = pending.find(id);
      if (it == pending.end()) continue;
      what = it->second.found ? "a lookup of '" + it->second.name + "'"
                              : "an ask to '" + it->second.name + "' on node " + it->second.node;
    }
    fail(id, std::make_exception_ptr(RemoteTimeout(what + " got no answer in time")));
  }
}

std::uint64_t NodeCore::add_pending(Pending p, std::chrono::milliseconds deadline) {
  if (deadline <= std::chrono::milliseconds::zero()) deadline = options.ask_timeout;
  std::lock_guard lock(mu);
  std::uint64_t id = next_id++;
  pending.emplace(id, std::move(p));
  deadlines.emplace(SteadyClock::now() + deadline, id);
  return id;
}

ReplyFn NodeCore::make_reply(std::string node, std::uint64_t node_inc, std::uint64_t id,
                             std::string reply_subject) {
  std::weak_ptr<NodeCore> weak = weak_from_this();
  return [weak, node = std::move(node), node_inc, id, reply_subject = std::move(reply_subject)](
             std::string_view body, std::exception_ptr error) {
    auto core = weak.lock();
    if (!core) return;
    Frame f;
    f.incarnation = core->incarnation.load();
    f.id = id;
    f.from = core->name;
    WireError w;
    if (error) {
      w = classify(error);
      f.kind = Kind::fail;
      f.type = w.kind;
      f.target = w.type;
      f.body = w.message;
    } else {
      f.kind = Kind::reply;
      f.body = body;
    }
    core->enqueue(node, node_inc, reply_subject, {}, encode_frame(f), 0);
  };
}

void NodeCore::fail_all(const std::function<bool(const Pending&)>& pick,
                        const std::function<std::exception_ptr(const Pending&)>& error) {
  std::vector<Pending> failed;
  {
    std::lock_guard lock(mu);
    for (auto it = pending.begin(); it != pending.end();) {
      if (pick(it->second)) {
        failed.push_back(std::move(it->second));
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& p : failed) {
    ++asks_failed;
    auto e = error(p);
    if (p.found) {
      p.found({}, e);
    } else {
      p.done({}, e);
    }
  }
}

void NodeCore::complete(const Frame& f) {
  Pending p;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(f.id);
    if (it == pending.end()) return;  // late: already timed out or failed
    if (f.kind == Kind::found) {
      if (!it->second.found || downs.count({std::string(f.from), f.incarnation}) != 0 ||
          !valid_token(f.from)) {
        return;  // a fenced holder answering: wait for a live one (or the deadline)
      }
    } else if (it->second.found || it->second.node != f.from ||
               it->second.incarnation != f.incarnation) {
      ++unknown;
      return;  // not from the node that was asked
    }
    p = std::move(it->second);
    pending.erase(it);
    ++peer_locked(std::string(f.from)).received;
  }
  ++received;
  if (f.kind == Kind::found) {
    p.found(Target{std::string(f.from), f.incarnation, p.name}, nullptr);
  } else if (f.kind == Kind::reply) {
    p.done(f.body, nullptr);
  } else {
    ++asks_failed;
    p.done({}, rebuild(f.type, f.target, f.body));
  }
}

void ask(const std::shared_ptr<NodeCore>& core, const Target& target, std::string_view type,
         std::string body, std::chrono::milliseconds deadline, ReplyFn done) {
  std::exception_ptr refused;
  {
    std::lock_guard lock(core->mu);
    if (core->closing) {
      refused = std::make_exception_ptr(NodeDown("the asking node is closed"));
    } else if (core->downs.count({target.node, target.incarnation}) != 0) {
      refused = std::make_exception_ptr(NodeDown("node " + target.node + " (incarnation " +
                                                 hex(target.incarnation) + ") was declared down"));
    }
  }
  if (!refused && !core->connected.load()) {
    refused = std::make_exception_ptr(NodeDown("this node is not connected to NATS right now"));
  }
  if (refused) {
    ++core->asks_failed;
    done({}, refused);
    return;
  }
  std::uint64_t inc = core->incarnation.load();
  std::uint64_t id = core->add_pending(
      Pending{target.node, target.incarnation, target.actor, std::move(done), {}}, deadline);
  Frame f;
  f.kind = Kind::ask;
  f.incarnation = inc;
  f.id = id;
  f.from = core->name;
  f.target = target.actor;
  f.type = type;
  f.body = body;
  if (!core->enqueue(target.node, target.incarnation,
                     core->data_subject(target.node, target.incarnation),
                     core->reply_prefix(inc) + "." + std::to_string(id), encode_frame(f), id)) {
    core->fail(id, std::make_exception_ptr(MailboxFull(
                       "the ask to node " + target.node +
                       " became a dead letter (its outbound queue is full, or it is down)")));
  }
}

void ProxyActor::on(const ConnectionLost&) {
  core_->fail_all([](const Pending&) { return true; },
                  [](const Pending&) {
                    return std::make_exception_ptr(
                        NodeDown("the connection to NATS was lost while the ask was in flight"));
                  });
}

}  // namespace troupe::detail::remote
