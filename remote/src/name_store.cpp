// remote/src/name_store.cpp - the cluster's name table in a JetStream key-value bucket
// (internal/name_store.hpp says what it guarantees).
#include "internal/name_store.hpp"

#include <cstdlib>
#include <utility>

#include "internal/identity.hpp"

namespace troupe::detail::remote {

namespace {

std::string escape(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('_');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string holder_value(const std::string& node, std::uint64_t incarnation) {
  return node + " " + hex(incarnation);
}

/// The holder an entry's value names; false for a value no node wrote.
bool parse_holder(std::string_view value, NameHolder& out) {
  auto space = value.rfind(' ');
  if (space == std::string_view::npos || space == 0 || value.size() - space - 1 != 16) {
    return false;
  }
  std::uint64_t inc = 0;
  for (char c : value.substr(space + 1)) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return false;
    inc = inc << 4 | static_cast<std::uint64_t>(digit);
  }
  if (!valid_token(value.substr(0, space))) return false;
  out.node.assign(value.substr(0, space));
  out.incarnation = inc;
  return true;
}

std::string last_error(natsStatus s) {
  const char* detail = nats_GetLastError(nullptr);
  return detail && *detail ? detail : natsStatus_GetText(s);
}

}  // namespace

std::string NameStore::bucket_for(const std::string& cluster) {
  return "troupe_names_" + escape(cluster);
}

std::string NameStore::key_for(const std::string& name) { return escape(name); }

std::string NameStore::open(natsConnection* conn, const std::string& cluster, int replicas,
                            std::chrono::milliseconds wait) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = wait.count();
  natsStatus s = natsConnection_JetStream(&js_, conn, &jo);
  if (s != NATS_OK) return "no JetStream context: " + last_error(s);
  bucket_ = bucket_for(cluster);
  s = js_KeyValue(&kv_, js_, bucket_.c_str());
  if (s == NATS_NOT_FOUND) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = bucket_.c_str();
    cfg.Description = "troupe: who holds each published actor name";
    cfg.History = 1;
    cfg.MaxValueSize = 512;
    cfg.Replicas = replicas;
    s = js_CreateKeyValue(&kv_, js_, &cfg);
    // Another node may have made it a moment earlier with other settings: use that one.
    if (s != NATS_OK) s = js_KeyValue(&kv_, js_, bucket_.c_str());
  }
  if (s != NATS_OK) {
    std::string why = s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT
                          ? "JetStream does not answer on this NATS server (start nats-server "
                            "with -js -sd DIR, or enable JetStream in its configuration)"
                          : "the names bucket " + bucket_ + " cannot be used: " + last_error(s);
    kv_ = nullptr;
    jsCtx_Destroy(js_);
    js_ = nullptr;
    return why;
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

bool NameStore::read(const std::string& key, NameHolder& holder, natsStatus& status) {
  kvEntry* e = nullptr;
  status = kvStore_Get(&e, kv_, key.c_str());
  if (status != NATS_OK) return false;
  std::string_view value(static_cast<const char*>(kvEntry_Value(e)),
                         static_cast<std::size_t>(kvEntry_ValueLen(e)));
  holder = NameHolder{};
  holder.readable = parse_holder(value, holder);
  holder.revision = kvEntry_Revision(e);
  kvEntry_Destroy(e);
  return true;
}

NameStore::Outcome NameStore::create(const std::string& name, const std::string& node,
                                     std::uint64_t incarnation, std::uint64_t& revision,
                                     NameHolder& holder, std::string& error) {
  std::string key = key_for(name);
  std::string value = holder_value(node, incarnation);
  natsStatus s = kvStore_Create(&revision, kv_, key.c_str(), value.data(),
                                static_cast<int>(value.size()));
  if (s == NATS_OK) return Outcome::claimed;
  error = last_error(s);
  natsStatus rs;
  if (read(key, holder, rs)) return Outcome::held;
  if (rs == NATS_NOT_FOUND) return Outcome::raced;  // released meanwhile
  error += "; reading the entry: " + last_error(rs);
  return Outcome::failed;
}

NameStore::Outcome NameStore::replace(const std::string& name, const std::string& node,
                                      std::uint64_t incarnation, std::uint64_t last,
                                      std::uint64_t& revision, std::string& error) {
  std::string key = key_for(name);
  std::string value = holder_value(node, incarnation);
  natsStatus s = kvStore_Update(&revision, kv_, key.c_str(), value.data(),
                                static_cast<int>(value.size()), last);
  if (s == NATS_OK) return Outcome::claimed;
  error = last_error(s);
  NameHolder now;
  natsStatus rs;
  if (read(key, now, rs) ? now.revision != last : rs == NATS_NOT_FOUND) return Outcome::raced;
  return Outcome::failed;
}

bool NameStore::release(const std::string& name, std::uint64_t revision) {
  return kv_ != nullptr && delete_key(key_for(name), revision);
}

bool NameStore::delete_key(const std::string& key, std::uint64_t revision) {
  // A delete marker ("KV-Operation: DEL", as the KV protocol writes one) published with
  // the expected last revision of the key: JetStream refuses it if anyone wrote since.
  std::string subject = "$KV." + bucket_ + "." + key;
  natsMsg* m = nullptr;
  if (natsMsg_Create(&m, subject.c_str(), nullptr, nullptr, 0) != NATS_OK) return false;
  natsMsgHeader_Set(m, "KV-Operation", "DEL");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectLastSubjectSeq = revision;
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PublishMsg(&ack, js_, m, &po, &code);
  if (ack != nullptr) jsPubAck_Destroy(ack);
  natsMsg_Destroy(m);
  return s == NATS_OK;
}

void NameStore::sweep(const std::string& node, std::uint64_t incarnation) {
  kvKeysList keys{};
  kvWatchOptions wo;
  kvWatchOptions_Init(&wo);
  if (kvStore_Keys(&keys, kv_, &wo) != NATS_OK) return;  // none, or no answer
  for (int i = 0; i < keys.Count; ++i) {
    NameHolder h;
    natsStatus rs;
    if (read(keys.Keys[i], h, rs) && h.readable && h.node == node &&
        h.incarnation == incarnation) {
      delete_key(keys.Keys[i], h.revision);
    }
  }
  kvKeysList_Destroy(&keys);
}

void NameStore::release_later(const std::string& name, std::uint64_t revision) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || kv_ == nullptr) return;
    jobs_.push_back(Job{name, revision, {}, 0});
  }
  cv_.notify_one();
}

void NameStore::release_held_by_later(const std::string& node, std::uint64_t incarnation) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || kv_ == nullptr) return;
    jobs_.push_back(Job{{}, 0, node, incarnation});
  }
  cv_.notify_one();
}

bool NameStore::stopping_now() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void NameStore::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    if (!job.name.empty()) {
      release(job.name, job.revision);
    } else if (!stopping_now()) {
      sweep(job.node, job.incarnation);  // leaving: the other nodes sweep as well
    }
    lock.lock();
  }
}

void NameStore::close() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (kv_ != nullptr) kvStore_Destroy(kv_);
  if (js_ != nullptr) jsCtx_Destroy(js_);
  kv_ = nullptr;
  js_ = nullptr;
}

}  // namespace troupe::detail::remote
