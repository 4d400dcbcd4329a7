// remote/src/connection.cpp - the node's two NATS connections (bulk traffic, and heartbeats
// on a path of their own), their callbacks, and starting and shutting the node down.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "internal/node_core.hpp"

namespace troupe::detail::remote {

namespace {

void on_sub_complete(void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  std::lock_guard lock(core->mu);
  ++core->subs_completed;
  core->close_cv.notify_all();
}

void on_disconnected(natsConnection* nc, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  if (nc == core->hb_conn) {
    core->hb_connected = false;
    return;
  }
  core->connected = false;
  if (core->closed.load()) return;
  ++core->disconnects;
  core->log("lost the connection to NATS; reconnecting (asks in flight fail)");
  try {
    core->proxy.tell(ConnectionLost{}, troupe::urgent);
  } catch (const std::exception&) {
  }
}

void on_reconnected(natsConnection* nc, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  std::lock_guard lock(core->mu);
  auto now = SteadyClock::now();
  core->reconnected_at = now;
  for (auto& [n, p] : core->peers) p->last_seen = now;  // a fresh start for everyone
  (nc == core->hb_conn ? core->hb_connected : core->connected) = true;
}

void on_closed(natsConnection*, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  std::lock_guard lock(core->mu);
  ++core->conns_closed;
  core->close_cv.notify_all();
}

void on_error(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  auto* core = static_cast<NodeCore*>(closure);
  if (err == NATS_SLOW_CONSUMER) {
    core->log("NATS dropped inbound messages: this node is not keeping up (slow consumer)");
  } else {
    core->log("NATS error: %s", natsStatus_GetText(err));
  }
}

natsConnection* connect(NodeCore& core, const std::string& role) {
  const NodeOptions& o = core.options;
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK)
    throw ConnectError("troupe: cannot create NATS options");
  std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
  std::vector<const char*> urls;
  for (auto& u : o.urls) urls.push_back(u.c_str());
  std::string client_name = "troupe " + o.cluster + "/" + core.name + " " + role;
  auto check = [&](natsStatus s, const char* what) {
    if (s != NATS_OK) {
      const char* detail = nats_GetLastError(nullptr);
      throw ConnectError(std::string("troupe: node '") + core.name + "': " + what + ": " +
                         (detail && *detail ? detail : natsStatus_GetText(s)));
    }
  };
  check(natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size())), "bad NATS urls");
  check(natsOptions_SetName(opts, client_name.c_str()), "options");
  check(natsOptions_SetTimeout(opts, o.connect_timeout.count()), "options");
  check(natsOptions_SetMaxReconnect(opts, -1), "options");
  check(natsOptions_SetReconnectWait(opts, 100), "options");
  check(natsOptions_SetReconnectJitter(opts, 0, 0), "options");
  check(natsOptions_SetReconnectBufSize(opts, 16 << 20), "options");
  check(natsOptions_SetPingInterval(opts, 2000), "options");
  check(natsOptions_SetMaxPendingMsgs(opts, o.inbound_max_messages), "options");
  // Write each publish at once instead of leaving it to cnats's flusher, which batches for
  // about a millisecond: an ask would wait that long twice. The sender thread already
  // takes whole batches off the queue, and heartbeats must not wait at all.
  check(natsOptions_SetSendAsap(opts, true), "options");
  if (!o.token.empty()) check(natsOptions_SetToken(opts, o.token.c_str()), "token");
  if (!o.user.empty()) {
    check(natsOptions_SetUserInfo(opts, o.user.c_str(), o.password.c_str()), "user and password");
  }
  if (!o.tls_ca_file.empty() || !o.tls_cert_file.empty()) {
    check(natsOptions_SetSecure(opts, true), "TLS");
    if (!o.tls_ca_file.empty()) {
      check(natsOptions_LoadCATrustedCertificates(opts, o.tls_ca_file.c_str()), "TLS CA file");
    }
    if (!o.tls_cert_file.empty()) {
      check(
          natsOptions_LoadCertificatesChain(opts, o.tls_cert_file.c_str(), o.tls_key_file.c_str()),
          "TLS certificate or key file");
    }
  }
  check(natsOptions_SetDisconnectedCB(opts, on_disconnected, &core), "options");
  check(natsOptions_SetReconnectedCB(opts, on_reconnected, &core), "options");
  check(natsOptions_SetClosedCB(opts, on_closed, &core), "options");
  check(natsOptions_SetErrorHandler(opts, on_error, &core), "options");
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) {
    const char* detail = nats_GetLastError(nullptr);
    std::string why = detail && *detail ? detail : natsStatus_GetText(s);
    std::string hint;
    if (s == NATS_CONNECTION_AUTH_FAILED || why.find("uthoriz") != std::string::npos) {
      hint =
          " (the server refused this node's credentials: check NodeOptions token, user "
          "and password)";
    } else if (s == NATS_NO_SERVER) {
      hint = " (no NATS server answered at the given urls)";
    } else if ((s == NATS_SSL_ERROR || s == NATS_SECURE_CONNECTION_REQUIRED) &&
               o.tls_ca_file.empty()) {
      hint =
          " (the server requires TLS and this node trusts no CA for it: set NodeOptions "
          "tls_ca_file to the CA that signed the server's certificate)";
    } else if (s == NATS_SSL_ERROR) {
      hint = " (TLS failed: check NodeOptions tls_ca_file, tls_cert_file and tls_key_file)";
    }
    std::string list;
    for (auto& u : o.urls) list += (list.empty() ? "" : ", ") + u;
    throw ConnectError("troupe: node '" + core.name + "' cannot join cluster '" + o.cluster +
                       "' at " + list + ": " + why + hint);
  }
  return nc;
}

}  // namespace

natsSubscription* NodeCore::subscribe(natsConnection* c, const std::string& subject,
                                      natsMsgHandler cb) {
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, c, subject.c_str(), cb, this);
  if (s != NATS_OK) {
    throw ConnectError("troupe: cannot subscribe to " + subject + ": " + natsStatus_GetText(s));
  }
  natsSubscription_SetOnCompleteCB(sub, on_sub_complete, this);
  all_subs.push_back(sub);
  return sub;
}

void NodeCore::start() {
  // Connections first; the closed callback counts both at shutdown, so on a failure here
  // close and destroy what was opened before rethrowing.
  try {
    conn = connect(*this, "bulk");
    hb_conn = connect(*this, "heartbeat");
    open_names();
  } catch (...) {
    closed = true;  // what cnats reports while closing is no news
    name_table.close();
    for (auto* c : {conn, hb_conn}) {
      if (c) {
        natsConnection_Close(c);
        natsConnection_Destroy(c);
      }
    }
    std::unique_lock lock(mu);
    close_cv.wait_for(lock, std::chrono::seconds(2),
                      [&] { return conns_closed >= (conn ? 1 : 0) + (hb_conn ? 1 : 0); });
    conn = hb_conn = nullptr;
    throw;
  }
  connected = true;
  hb_connected = true;
  {
    std::lock_guard lock(mu);
    reconnected_at = SteadyClock::now() - options.down_after;
    data_sub = subscribe(conn, data_subject(name, incarnation), on_bulk);
    natsSubscription_SetPendingLimits(data_sub, options.inbound_max_messages,
                                      options.inbound_max_bytes);
    reply_sub = subscribe(conn, reply_prefix(incarnation) + ".*", on_bulk);
    hb_sub = subscribe(hb_conn, hb_subject(), on_heartbeat);
    ctl_sub = subscribe(hb_conn, ctl_subject(), on_control);
  }
  natsConnection_FlushTimeout(conn, options.connect_timeout.count());
  natsConnection_FlushTimeout(hb_conn, options.connect_timeout.count());
  sender = std::thread([this] { run_sender(); });
  heart = std::thread([this] { run_heart(); });
}

void NodeCore::shutdown() {
  {
    std::lock_guard lock(mu);
    if (closing) return;
    closing = true;
  }
  stop_cv.notify_all();
  out_cv.notify_all();
  if (heart.joinable()) heart.join();
  if (sender.joinable()) sender.join();  // drains what was queued
  if (conn) natsConnection_FlushTimeout(conn, 500);
  // Our names are free again: release them in the name table (a moment each at most).
  std::map<std::string, std::uint64_t> ours;
  {
    std::lock_guard lock(mu);
    ours.swap(name_revisions);
  }
  for (auto& [n, revision] : ours) name_table.release(n, revision);
  name_table.close();
  // Leaving on purpose: say so, so that peers need not wait out down_after.
  if (hb_conn) {
    Frame f;
    f.kind = Kind::down;
    f.incarnation = incarnation.load();
    f.id = incarnation.load();
    f.from = name;
    f.target = name;
    f.type = kLeft;
    publish_control(f, ctl_subject());
    natsConnection_FlushTimeout(hb_conn, 500);
  }
  closed = true;
  int expected_conns = 0;
  for (auto* c : {conn, hb_conn}) {
    if (c) {
      natsConnection_Close(c);
      ++expected_conns;
    }
  }
  {
    // Wait until cnats has returned from every callback it might still run on this core.
    std::unique_lock lock(mu);
    close_cv.wait_for(lock, std::chrono::seconds(5), [&] {
      return conns_closed >= expected_conns && subs_completed >= static_cast<int>(all_subs.size());
    });
  }
  {
    // Nothing may reach a subscription once it is destroyed (the proxy may still be
    // releasing a name when one of its actors ends).
    std::lock_guard lock(mu);
    name_subs.clear();
    data_sub = reply_sub = hb_sub = ctl_sub = nullptr;
  }
  for (auto* sub : all_subs) natsSubscription_Destroy(sub);
  all_subs.clear();
  for (auto* c : {conn, hb_conn}) {
    if (c) natsConnection_Destroy(c);
  }
  conn = hb_conn = nullptr;
  fail_all([](const Pending&) { return true; },
           [](const Pending&) {
             return std::make_exception_ptr(NodeDown("the asking node was closed"));
           });
  proxy.stop();
}

}  // namespace troupe::detail::remote
