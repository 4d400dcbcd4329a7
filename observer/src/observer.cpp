// observer.cpp - the Observer's HTTP server: libevent's evhttp on a thread of its own.
//
// One thread runs one event loop; every request is answered on it from the Model's latest
// snapshot. Replies go out through evhttp's buffers: a client that never reads fills its
// socket and then a buffer in this process, and the loop goes on serving everyone else;
// idle or stuck connections are closed after kIdleTimeout. The destructor reaches the loop
// through an eventfd, the one thing another thread touches.
#include "troupe/observer.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <charconv>
#include <optional>
#include <cstdio>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "model.hpp"
#include "page.hpp"
#include "troupe/probe.hpp"
#include "troupe/system.hpp"

namespace troupe {

namespace {

constexpr int kIdleTimeout = 30;       // seconds a connection may sit idle or stuck
constexpr int kMaxTraceSeconds = 60;
// While someone has asked for anything within this long, the observer takes a snapshot a
// second for the charts' history; otherwise it takes none (an unwatched observer costs
// nothing but a timer a second).
constexpr auto kWatchedFor = std::chrono::minutes(5);
// Sends are sampled (for the "who sends to whom" graph) while the page has asked for
// /actors.json within this long, for kSampleWindow at the start of each second: while a
// window is open every send of the process leaves its inline path.
constexpr auto kPageOpenFor = std::chrono::seconds(5);
constexpr long kSampleWindowMicros = 100'000;

/// Compares without stopping at the first difference, so timing tells nothing of the token.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

/// The query parameters of a request, freed with it.
class Params {
 public:
  explicit Params(const evhttp_uri* uri) {
    list_.tqh_first = nullptr;  // an empty queue (TAILQ_INIT, which libevent does not export)
    list_.tqh_last = &list_.tqh_first;
    const char* q = uri != nullptr ? evhttp_uri_get_query(uri) : nullptr;
    if (q != nullptr) ok_ = evhttp_parse_query_str(q, &list_) == 0;
  }
  ~Params() { evhttp_clear_headers(&list_); }
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;

  bool ok() const { return ok_; }
  const char* get(const char* key) const { return evhttp_find_header(&list_, key); }
  /// The parameter as a non-negative integer; `fallback` if absent; nullopt if malformed.
  std::optional<long> number(const char* key, long fallback) const {
    const char* v = get(key);
    if (v == nullptr) return fallback;
    long n = 0;
    std::string_view s(v);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
    return n;
  }

 private:
  evkeyvalq list_;
  bool ok_ = true;
};

}  // namespace

struct Observer::State {
  System* system = nullptr;
  ObserverOptions options;
  observe::Model model;
  int port = 0;
  event_base* base = nullptr;
  evhttp* http = nullptr;
  event* wake = nullptr;
  event* tick = nullptr;
  std::chrono::steady_clock::time_point last_request{};
  std::chrono::steady_clock::time_point last_page_poll{};
  bool ever_asked = false;
  // The /trace request being recorded for (answered when trace_timer fires), if any.
  evhttp_request* trace_request = nullptr;
  event* trace_timer = nullptr;
  event* window_timer = nullptr;  // ends a window of send sampling
  int wake_fd = -1;
  std::thread thread;

  State(System& s, ObserverOptions o) : system(&s), options(std::move(o)), model(s) {}
  ~State() {
    if (trace_request != nullptr) {
      probe::stop_trace(*system);
      // evhttp_free frees it with its connection, unless the client left (it was detached).
      if (evhttp_request_get_connection(trace_request) == nullptr) {
        evhttp_request_free(trace_request);
      }
    }
    model.stop_sampling();
    probe::time_asks(*system, false);
    if (http != nullptr) evhttp_free(http);  // closes the listener and every connection
    if (trace_timer != nullptr) event_free(trace_timer);
    if (window_timer != nullptr) event_free(window_timer);
    if (wake != nullptr) event_free(wake);
    if (tick != nullptr) event_free(tick);
    if (base != nullptr) event_base_free(base);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  static void on_wake(evutil_socket_t fd, short, void* arg) {
    auto* s = static_cast<State*>(arg);
    std::uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
    event_base_loopbreak(s->base);
  }

  /// Once a second: a point of history, while someone is watching.
  static void on_tick(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<State*>(arg);
    if (std::chrono::steady_clock::now() - s->last_page_poll > kPageOpenFor) {
      if (s->model.sampling()) s->model.stop_sampling();
    } else {
      s->model.start_window();
      timeval window{0, kSampleWindowMicros};
      if (event_add(s->window_timer, &window) != 0) s->model.end_window();
    }
    if (!s->ever_asked || std::chrono::steady_clock::now() - s->last_request > kWatchedFor) return;
    try {
      s->model.refresh(std::chrono::milliseconds(900));
      s->model.record_history();
    } catch (...) {
      // out of memory: the next tick tries again
    }
  }

  static void on_window_end(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<State*>(arg);
    try {
      s->model.end_window();
    } catch (...) {
      // out of memory: this window's graph is lost
    }
  }

  /// The trace's time is up: stop recording and answer the request that asked for it.
  static void on_trace_done(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<State*>(arg);
    evhttp_request* req = std::exchange(s->trace_request, nullptr);
    std::string json;
    try {
      json = probe::stop_trace(*s->system);
    } catch (...) {
      return text(req, 500, "troupe observer: out of memory making the trace\n");
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition",
                      "attachment; filename=\"troupe-trace.json\"");
    reply(req, 200, "application/json", json);
  }

  static void reply(evhttp_request* req, int code, const char* type, std::string_view body) {
    evkeyvalq* headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", type);
    evhttp_add_header(headers, "Cache-Control", "no-store");
    evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
    evbuffer* out = evbuffer_new();
    if (out == nullptr) {
      evhttp_send_error(req, 500, "out of memory");
      return;
    }
    evbuffer_add(out, body.data(), body.size());
    evhttp_send_reply(req, code, nullptr, out);
    evbuffer_free(out);
  }
  static void text(evhttp_request* req, int code, std::string_view body) {
    reply(req, code, "text/plain; charset=utf-8", body);
  }

  bool authorized(evhttp_request* req, const Params& params) const {
    if (options.token.empty()) return true;
    if (const char* auth = evhttp_find_header(evhttp_request_get_input_headers(req),
                                              "Authorization")) {
      std::string_view a(auth);
      constexpr std::string_view kBearer = "Bearer ";
      if (a.substr(0, kBearer.size()) == kBearer && same_secret(a.substr(kBearer.size()), options.token)) {
        return true;
      }
    }
    const char* t = params.get("token");
    return t != nullptr && same_secret(t, options.token);
  }

  static void on_request(evhttp_request* req, void* arg) {
    auto* s = static_cast<State*>(arg);
    s->last_request = std::chrono::steady_clock::now();
    s->ever_asked = true;
    try {
      s->route(req);
    } catch (const std::exception& e) {
      text(req, 500, std::string("troupe observer: ") + e.what() + "\n");
    } catch (...) {
      text(req, 500, "troupe observer: internal error\n");
    }
  }

  void route(evhttp_request* req) {
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    std::string path = raw_path != nullptr && *raw_path != '\0' ? raw_path : "/";
    Params params(uri);
    if (!params.ok()) return text(req, 400, "malformed query string\n");
    if (!authorized(req, params)) {
      evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                        "Bearer realm=\"troupe\"");
      return text(req, 401,
                  "this observer needs a token: 'Authorization: Bearer <token>' or ?token=\n");
    }
    if (path == "/") return reply(req, 200, "text/html; charset=utf-8", observe::page());
    if (path == "/metrics") {
      model.refresh();
      return reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                   model.metrics(options.max_actor_series));
    }
    if (path == "/stats.json") {
      model.refresh();
      return reply(req, 200, "application/json", model.stats_json().dump());
    }
    if (path == "/actors.json") {
      observe::Query q;
      auto limit = params.number("limit", 200);
      auto offset = params.number("offset", 0);
      auto parent = params.number("parent", -1);
      if (!limit || !offset || (params.get("parent") != nullptr && !parent)) {
        return text(req, 400, "limit, offset and parent must be non-negative integers\n");
      }
      q.limit = static_cast<std::size_t>(*limit);
      q.offset = static_cast<std::size_t>(*offset);
      q.parent = *parent;
      if (const char* v = params.get("sort")) q.sort = v;
      if (const char* v = params.get("order")) q.descending = std::string_view(v) == "desc";
      if (const char* v = params.get("q")) q.text = v;
      if (const char* v = params.get("state")) q.state = v;
      if (const char* v = params.get("growing")) q.growing_only = std::string_view(v) == "1";
      // The first poll of a page opens a sampling window at once; then on_tick does.
      if (!model.sampling()) {
        model.start_window();
        timeval window{0, kSampleWindowMicros};
        if (event_add(window_timer, &window) != 0) model.end_window();
      }
      last_page_poll = std::chrono::steady_clock::now();
      model.refresh();
      model.record_history();
      return reply(req, 200, "application/json", model.actors_json(q).dump());
    }
    if (path == "/trace") {
      auto seconds = params.number("seconds", 5);
      if (!seconds || *seconds < 1 || *seconds > kMaxTraceSeconds) {
        return text(req, 400, "seconds must be a whole number from 1 to 60\n");
      }
      if (trace_request != nullptr || !probe::start_trace(*system)) {
        return text(req, 409, "a trace is being recorded already; try again when it is done\n");
      }
      // Answered when the timer fires. A client that leaves meanwhile costs nothing more:
      // evhttp keeps the request for us and frees it when we answer.
      trace_request = req;
      if (evhttp_connection* c = evhttp_request_get_connection(req)) {
        evhttp_connection_set_timeout(c, static_cast<int>(*seconds) + kIdleTimeout);
      }
      timeval after{static_cast<time_t>(*seconds), 0};
      if (event_add(trace_timer, &after) != 0) {
        trace_request = nullptr;
        probe::stop_trace(*system);
        return text(req, 500, "troupe observer: cannot start a timer\n");
      }
      return;
    }
    text(req, 404, "no such page; try /, /metrics, /actors.json, /stats.json or /trace?seconds=5\n");
  }
};

Observer::Observer(System& system, ObserverOptions options) {
  if (options.port < 0 || options.port > 65535) {
    throw std::invalid_argument("ObserverOptions::port must be 0-65535");
  }
  state_ = std::make_unique<State>(system, std::move(options));
  State* s = state_.get();
  s->base = event_base_new();
  s->http = s->base != nullptr ? evhttp_new(s->base) : nullptr;
  s->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->http == nullptr || s->wake_fd < 0) {
    throw std::runtime_error("troupe::Observer: cannot create the event loop");
  }
  s->wake = event_new(s->base, s->wake_fd, EV_READ, &State::on_wake, s);
  if (s->wake == nullptr || event_add(s->wake, nullptr) != 0) {
    throw std::runtime_error("troupe::Observer: cannot create the event loop");
  }
  s->trace_timer = event_new(s->base, -1, 0, &State::on_trace_done, s);
  if (s->trace_timer == nullptr) throw std::runtime_error("troupe::Observer: cannot create the event loop");
  s->window_timer = event_new(s->base, -1, 0, &State::on_window_end, s);
  if (s->window_timer == nullptr) throw std::runtime_error("troupe::Observer: cannot create the event loop");
  s->tick = event_new(s->base, -1, EV_PERSIST, &State::on_tick, s);
  timeval second{1, 0};
  if (s->tick == nullptr || event_add(s->tick, &second) != 0) {
    throw std::runtime_error("troupe::Observer: cannot create the event loop");
  }
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(
      s->http, s->options.bind.c_str(), static_cast<ev_uint16_t>(s->options.port));
  if (bound == nullptr) {
    throw std::runtime_error("troupe::Observer: cannot listen on " + s->options.bind + ":" +
                             std::to_string(s->options.port) +
                             " (address in use, or not an address of this host)");
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&addr),
                    &len) == 0) {
    s->port = addr.ss_family == AF_INET6
                  ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                  : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_timeout(s->http, kIdleTimeout);
  evhttp_set_max_headers_size(s->http, 16 * 1024);
  evhttp_set_max_body_size(s->http, 4 * 1024);
  evhttp_set_gencb(s->http, &State::on_request, s);
  probe::time_asks(system, true);  // one ask in 8: troupe_ask_latency_seconds

  s->thread = std::thread([s] {
    // A library's thread takes no signals: the program's handlers (and a SignalHandler that
    // blocks them to wait for them) expect them on threads of their own; a client that hangs
    // up makes a write raise SIGPIPE, which becomes EPIPE here.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    pthread_setname_np(pthread_self(), "troupe-observer");
    event_base_dispatch(s->base);
  });
  if (s->options.announce) {
    std::fprintf(stderr, "troupe: observing this system at %s/ (metrics at /metrics)\n",
                 url().c_str());
  }
  const std::string& bind = s->options.bind;
  bool loopback = bind.rfind("127.", 0) == 0 || bind == "::1" || bind == "localhost";
  if (!loopback && s->options.token.empty()) {
    std::fprintf(stderr,
                 "troupe: warning: the observer listens on %s without a token: whoever can "
                 "reach port %d sees this system's actors and counters\n",
                 bind.c_str(), s->port);
  }
}

Observer::~Observer() {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(state_->wake_fd, &one, sizeof one);
  if (state_->thread.joinable()) state_->thread.join();
}

int Observer::port() const noexcept { return state_->port; }

std::string Observer::url() const {
  const std::string& host = state_->options.bind;
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(state_->port);
}

}  // namespace troupe
