// fixture_server.cpp - FixtureServer: cpp-httplib on 127.0.0.1, serving content that is a
// pure function of the request path, with faults injected per route prefix.
//
// Content is generated on first use and cached (images and RFC texts) or built up front
// (the 17 rates documents). Every handler goes through `serve`, which counts the request,
// applies the faults and sends the body through a content provider (uncompressed, so a cut
// after N bytes means N bytes of the content, for every route).
#include "troupe/fixture_server.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace troupe {

namespace {

using Body = std::shared_ptr<const std::string>;
using Millis = std::chrono::milliseconds;

// -- the currencies ------------------------------------------------------------------------

struct Currency {
  const char* code;  // lower case
  const char* name;
  double per_usd;  // units of this currency one U.S. dollar buys (fixed, made up)
};

// Sorted by code, so bases() is sorted without sorting.
constexpr Currency kCurrencies[] = {
    {"aud", "Australian Dollar", 1.5243},
    {"bbd", "Barbadian Dollar", 2.0},
    {"bhd", "Bahrain Dinar", 0.377},
    {"cad", "Canadian Dollar", 1.3712},
    {"chf", "Swiss Franc", 0.8851},
    {"cop", "Colombian Peso", 4061.2},
    {"djf", "Djiboutian Franc", 177.72},
    {"egp", "Egyptian Pound", 30.9},
    {"eur", "Euro", 0.9185},
    {"gbp", "U.K. Pound Sterling", 0.8012},
    {"hnl", "Honduran Lempira", 24.69},
    {"jpy", "Japanese Yen", 148.31},
    {"kes", "Kenyan Shilling", 152.35},
    {"krw", "South Korean Won", 1296.4},
    {"rub", "Russian Rouble", 88.45},
    {"ugx", "Ugandan Shilling", 3771.5},
    {"usd", "U.S. Dollar", 1.0},
};

constexpr const char* kDate = "Tue, 21 Nov 2023 12:00:01 GMT";

const Currency* find_currency(std::string_view code) {
  for (const auto& c : kCurrencies) {
    if (code == c.code) return &c;
  }
  return nullptr;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// 1 `base` = rate `code`.
double cross_rate(const Currency& base, const Currency& code) {
  return code.per_usd / base.per_usd;
}

std::string daily_document(const Currency& base) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& c : kCurrencies) {
    if (&c == &base) continue;
    doc[c.code] = {
        {"code", upper(c.code)},
        {"alphaCode", upper(c.code)},
        {"numericCode", std::to_string(100 + (&c - kCurrencies))},
        {"name", c.name},
        {"rate", cross_rate(base, c)},
        {"date", kDate},
        {"inverseRate", cross_rate(c, base)},
    };
  }
  return doc.dump();  // shortest round-trip form: parses back to the same doubles
}

// -- deterministic content -----------------------------------------------------------------

/// splitmix64: a tiny deterministic generator, good enough for fixture bytes.
class Mix {
 public:
  explicit Mix(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

std::string make_image(int n) {
  Mix mix(0x1a2b3c4d00000000ull + static_cast<std::uint64_t>(n));
  std::size_t size = 20 * 1024 + mix.below(180 * 1024 + 1);
  // SOI, a JFIF APP0 segment, then noise, then EOI: enough for `file` to say JPEG.
  static constexpr unsigned char kHeader[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J',
                                              'F',  'I',  'F',  0x00, 0x01, 0x01, 0x00,
                                              0x00, 0x01, 0x00, 0x01, 0x00, 0x00};
  std::string out(reinterpret_cast<const char*>(kHeader), sizeof kHeader);
  out.reserve(size);
  while (out.size() + 2 < size) {
    std::uint64_t r = mix.next();
    for (int i = 0; i < 8 && out.size() + 2 < size; ++i) {
      out.push_back(static_cast<char>(r & 0xFF));
      r >>= 8;
    }
  }
  out.push_back(static_cast<char>(0xFF));
  out.push_back(static_cast<char>(0xD9));
  return out;
}

// The words of the generated RFC texts, the 27 short function words first.
constexpr std::string_view kVocabulary =
    "the of to and a in is that for be this as by with on are or an it may must not which if "
    "should when each server client request response message header field value protocol "
    "connection data section method resource entity body length content transfer encoding "
    "cache proxy gateway status code error token character octet sequence parameter syntax "
    "network working group document standard implementation user agent origin host port "
    "address time date version media type range request-line defined described following "
    "received sent used other any all such than there its only also can will at from but "
    "these those between within without however therefore otherwise recipient sender "
    "security considerations authentication mechanism field-value URI";
constexpr std::size_t kFunctionWords = 27;

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < kVocabulary.size()) {
      std::size_t space = std::min(kVocabulary.find(' ', at), kVocabulary.size());
      out.emplace_back(kVocabulary.substr(at, space - at));
      at = space + 1;
    }
    return out;
  }();
  return words;
}

std::size_t count_words(const std::string& text) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

std::string make_rfc(int n) {
  const std::vector<std::string>& words = vocabulary();
  Mix mix(0x5f3759df00000000ull + static_cast<std::uint64_t>(n));
  std::size_t size = 100 * 1024 + mix.below(300 * 1024 + 1);
  std::string out;
  out.reserve(size + 256);
  out += "Network Working Group                                  Request for Comments: ";
  out += std::to_string(n);
  out += "\nCategory: Informational                                          troupe fixture\n\n";
  std::string line;
  int section = 1;
  auto flush_line = [&] {
    out += line;
    out += '\n';
    line.clear();
  };
  while (out.size() < size) {
    out += '\n' + std::to_string(section++) + ".  ";
    std::string title = words[kFunctionWords + mix.below(words.size() - kFunctionWords)];
    title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    out += title + "\n\n";
    std::size_t sentences = 3 + mix.below(8);
    for (std::size_t s = 0; s < sentences; ++s) {
      std::size_t length = 6 + mix.below(14);
      for (std::size_t w = 0; w < length; ++w) {
        std::string word = words[mix.below(words.size())];
        if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        if (w + 1 == length) word += '.';
        if (line.size() + 1 + word.size() > 72) flush_line();
        if (line.empty()) line = "   ";  // RFC body text is indented
        line += ' ';
        line += word;
      }
    }
    if (!line.empty()) flush_line();
  }
  return out;
}

bool parse_number(const std::string& text, int& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

void check_n(int n, const char* what) {
  if (n < 1 || n > 9999) {
    throw std::out_of_range(std::string("FixtureServer::") + what + ": n must be 1..9999, not " +
                            std::to_string(n));
  }
}

/// The value of the longest prefix of `path` in `table`, if any.
template <class V>
std::optional<V> longest_match(const std::map<std::string, V>& table, const std::string& path) {
  std::optional<V> found;
  std::size_t best = 0;
  for (const auto& [prefix, value] : table) {
    if (path.compare(0, prefix.size(), prefix) == 0 && (!found || prefix.size() >= best)) {
      found = value;
      best = prefix.size();
    }
  }
  return found;
}

/// What `serve` applies to one request.
struct Faults {
  Millis latency{0};
  int failure = 0;
  std::optional<std::size_t> cut;
  bool malformed = false;
};

/// What a route answers: a status and a body.
struct Reply {
  int status = 200;
  Body body;
  const char* content_type = "text/plain; charset=utf-8";
};

/// httplib's server, with access to its listening socket (to deepen the backlog).
class Server : public httplib::Server {
 public:
  socket_t listening_socket() const { return svr_sock_; }
};

Reply text(int status, std::string message) {
  return {status, std::make_shared<const std::string>(std::move(message)),
          "text/plain; charset=utf-8"};
}

}  // namespace

// -- the server's state ------------------------------------------------------------------------

namespace detail {

struct FixtureState {
  Server server;
  std::thread thread;
  int port = 0;
  std::atomic<bool> listen_returned{false};
  std::map<std::string, Body> daily;  // by lower-case base; immutable after construction

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<std::size_t> max_in_flight{0};

  mutable std::mutex mutex;  // guards everything below
  std::condition_variable stopping_cv;
  bool stopping = false;
  std::map<std::string, Millis> latency;
  std::map<std::string, int> failure;
  std::map<std::string, std::size_t> cut;
  std::map<std::string, bool> malformed;
  std::map<int, Body> images;                        // generated on first use
  std::map<int, std::pair<Body, std::size_t>> rfcs;  // text and word count

  Faults faults_for(const std::string& path) const {
    std::lock_guard lock(mutex);
    Faults f;
    f.latency = longest_match(latency, path).value_or(Millis(0));
    f.failure = longest_match(failure, path).value_or(0);
    f.cut = longest_match(cut, path);
    f.malformed = longest_match(malformed, path).value_or(false);
    return f;
  }

  Body image(int n) {
    check_n(n, "image");
    std::lock_guard lock(mutex);
    auto& slot = images[n];
    if (!slot) slot = std::make_shared<const std::string>(make_image(n));
    return slot;
  }

  std::pair<Body, std::size_t> rfc(int n) {
    check_n(n, "rfc");
    std::lock_guard lock(mutex);
    auto& slot = rfcs[n];
    if (!slot.first) {
      auto body = std::make_shared<const std::string>(make_rfc(n));
      slot = {body, count_words(*body)};
    }
    return slot;
  }

  /// Sleeps `delay` unless the server stops first; returns false if it is stopping.
  bool sleep(Millis delay) {
    std::unique_lock lock(mutex);
    return !stopping_cv.wait_for(lock, delay, [&] { return stopping; });
  }

  void enter() {
    requests.fetch_add(1, std::memory_order_relaxed);
    std::size_t now = in_flight.fetch_add(1, std::memory_order_acq_rel) + 1;
    std::size_t seen = max_in_flight.load(std::memory_order_relaxed);
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
  }
  void leave() { in_flight.fetch_sub(1, std::memory_order_acq_rel); }

  /// Runs a route with the faults for its path applied, and sends what it replies.
  void serve(const httplib::Request& req, httplib::Response& res,
             const std::function<Reply(const httplib::Request&)>& route) {
    enter();
    struct Leave {
      FixtureState* s;
      ~Leave() { s->leave(); }
    } leave_on_exit{this};

    Faults f = faults_for(req.path);
    Reply reply;
    if (f.latency > Millis(0) && !sleep(f.latency)) {
      reply = text(503, "the fixture server is stopping\n");
    } else if (f.failure != 0) {
      reply = text(f.failure, "injected failure " + std::to_string(f.failure) + "\n");
    } else {
      try {
        reply = route(req);
      } catch (const std::exception& e) {
        reply = text(500, std::string("fixture error: ") + e.what() + "\n");
      }
    }
    if (f.malformed && reply.status < 400) {
      // Half of the document: a JSON parser must reject it.
      const std::string& whole = *reply.body;
      reply.body = std::make_shared<const std::string>(whole.substr(0, whole.size() / 2));
    }
    send(res, reply, f.cut);
  }

  /// Sends the reply through a content provider: no copy of the body, and never compressed
  /// (httplib compresses only plain bodies), so what goes out is exactly the fixture's
  /// bytes and costs no CPU. With a cut, the full length is announced, `cut` bytes are
  /// sent and the provider refuses: httplib closes the connection, the client sees a
  /// short body.
  static void send(httplib::Response& res, const Reply& reply, std::optional<std::size_t> cut) {
    res.status = reply.status;
    Body body = reply.body;
    std::size_t limit = cut ? std::min(*cut, body->size()) : body->size();
    res.set_content_provider(
        body->size(), reply.content_type,
        [body, limit](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          if (offset >= limit) return false;
          std::size_t n = std::min({length, limit - offset, std::size_t(64 * 1024)});
          return sink.write(body->data() + offset, n);
        });
  }
};

}  // namespace detail

// -- FixtureServer -----------------------------------------------------------------------------

FixtureServer::FixtureServer() : state_(std::make_unique<detail::FixtureState>()) {
  detail::FixtureState* s = state_.get();  // lives until the server threads are joined
  for (const auto& c : kCurrencies) {
    s->daily[c.code] = std::make_shared<const std::string>(daily_document(c));
  }

  auto route = [s](const char* pattern, std::function<Reply(const httplib::Request&)> fn) {
    s->server.Get(pattern,
                  [s, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
                    s->serve(req, res, fn);
                  });
  };
  route(R"(/daily/([a-z]+)\.json)", [s](const httplib::Request& req) {
    auto it = s->daily.find(req.matches[1].str());
    if (it == s->daily.end()) return text(404, "no rates for " + req.matches[1].str() + "\n");
    return Reply{200, it->second, "application/json"};
  });
  route(R"(/images/(\d+)\.jpg)", [s](const httplib::Request& req) {
    int n = 0;
    if (!parse_number(req.matches[1].str(), n) || n < 1 || n > 9999) {
      return text(404, "no such image\n");
    }
    return Reply{200, s->image(n), "image/jpeg"};
  });
  route(R"(/rfc/rfc(\d+)\.txt)", [s](const httplib::Request& req) {
    int n = 0;
    if (!parse_number(req.matches[1].str(), n) || n < 1 || n > 9999) {
      return text(404, "no such RFC\n");
    }
    return Reply{200, s->rfc(n).first, "text/plain; charset=utf-8"};
  });
  route(R"(/status/(\d+))", [](const httplib::Request& req) {
    int code = 0;
    if (!parse_number(req.matches[1].str(), code) || code < 200 || code > 599) {
      return text(400, "status must be 200..599\n");
    }
    return text(code, "status " + std::to_string(code) + "\n");
  });
  route(R"(.*)",
        [](const httplib::Request& req) { return text(404, "not found: " + req.path + "\n"); });

  // Enough threads that latency-injected requests overlap (httplib's default is 8), and a
  // short keep-alive so idle client connections do not hold them for long.
  s->server.new_task_queue = [] { return new httplib::ThreadPool(32); };
  s->server.set_keep_alive_timeout(1);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
  // holds the body back until the client's delayed ACK, 40 ms later.
  s->server.set_tcp_nodelay(true);

  s->port = s->server.bind_to_any_port("127.0.0.1");
  if (s->port <= 0) throw std::runtime_error("FixtureServer: cannot bind 127.0.0.1");
  // httplib listens with a backlog of 5: a burst of connections beyond that loses SYNs,
  // which the client resends only a second later. Listening again deepens the queue.
  ::listen(s->server.listening_socket(), SOMAXCONN);
  s->thread = std::thread([s] {
    // A client that hangs up makes the next write raise SIGPIPE, which would kill the
    // whole process; blocked here, it becomes EPIPE. The pool threads inherit the mask.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    s->server.listen_after_bind();
    s->listen_returned.store(true, std::memory_order_release);
  });
  // The socket already listens (connections queue in its backlog); wait until the accept
  // loop runs too, so that the destructor's stop() cannot come before it.
  while (!s->server.is_running()) {
    if (s->listen_returned.load(std::memory_order_acquire)) {
      s->thread.join();
      throw std::runtime_error("FixtureServer: the server on 127.0.0.1 stopped at once");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

FixtureServer::~FixtureServer() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->stopping_cv.notify_all();
  state_->server.stop();
  if (state_->thread.joinable()) state_->thread.join();
}

std::string FixtureServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(state_->port);
}

std::string FixtureServer::url(std::string_view path) const {
  return base_url() + std::string(path);
}

int FixtureServer::port() const noexcept { return state_->port; }

std::vector<std::string> FixtureServer::bases() const {
  std::vector<std::string> out;
  for (const auto& c : kCurrencies) out.emplace_back(c.code);
  return out;
}

double FixtureServer::rate(const std::string& base, const std::string& code) const {
  const Currency* b = find_currency(base);
  const Currency* c = find_currency(code);
  if (b == nullptr || c == nullptr || b == c) {
    throw std::out_of_range("FixtureServer::rate: no rate for '" + code + "' in /daily/" + base +
                            ".json");
  }
  return cross_rate(*b, *c);
}

const char* FixtureServer::date() noexcept { return kDate; }

const std::string& FixtureServer::image(int n) const { return *state_->image(n); }

std::string FixtureServer::rfc(int n) const { return *state_->rfc(n).first; }

std::size_t FixtureServer::rfc_word_count(int n) const { return state_->rfc(n).second; }

std::uint64_t FixtureServer::requests() const noexcept {
  return state_->requests.load(std::memory_order_relaxed);
}

std::size_t FixtureServer::max_in_flight() const noexcept {
  return state_->max_in_flight.load(std::memory_order_acquire);
}

void FixtureServer::reset_max_in_flight() noexcept {
  state_->max_in_flight.store(state_->in_flight.load(std::memory_order_acquire),
                              std::memory_order_release);
}

void FixtureServer::set_latency(const std::string& prefix, std::chrono::milliseconds delay) {
  std::lock_guard lock(state_->mutex);
  if (delay <= Millis(0)) {
    state_->latency.erase(prefix);
  } else {
    state_->latency[prefix] = delay;
  }
}

void FixtureServer::set_failure(const std::string& prefix, int status) {
  if (status != 0 && (status < 400 || status > 599)) {
    throw std::invalid_argument("FixtureServer::set_failure: status must be 400..599 (or 0)");
  }
  std::lock_guard lock(state_->mutex);
  if (status == 0) {
    state_->failure.erase(prefix);
  } else {
    state_->failure[prefix] = status;
  }
}

void FixtureServer::cut_after(const std::string& prefix, std::size_t bytes) {
  std::lock_guard lock(state_->mutex);
  state_->cut[prefix] = bytes;
}

void FixtureServer::set_malformed(const std::string& prefix, bool on) {
  std::lock_guard lock(state_->mutex);
  if (on) {
    state_->malformed[prefix] = true;
  } else {
    state_->malformed.erase(prefix);
  }
}

void FixtureServer::clear_faults() {
  std::lock_guard lock(state_->mutex);
  state_->latency.clear();
  state_->failure.clear();
  state_->cut.clear();
  state_->malformed.clear();
}

}  // namespace troupe
