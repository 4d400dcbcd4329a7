// http.cpp - HttpClient: one actor on a dedicated thread drives one libcurl multi handle.
//
// The path of a request: get()/download() wrap it in a Transfer holding the promise, tell
// the actor Submit{transfer} and wake the multi handle (an eventfd in its epoll set). The
// actor queues the transfer, starts as many as the caps allow (an easy handle each, added
// to the multi handle), and while any is in flight sends itself Pump: wait for ready
// sockets (at most 10 ms, cut short by a wake-up), let libcurl act on those alone
// (curl_multi_socket_action), harvest the finished ones, then Pump again. Messages that arrive
// meanwhile queue ahead of the next Pump, so new requests start between pumps and no thread is
// spent per request.
//
// A Transfer answers its promise exactly once: with the result, with an HttpError, or -
// from its destructor, if nothing answered it (the actor stopped, or the Submit became a
// dead letter) - with ActorStopped. Its destructor also removes a download's temporary file,
// so no partial file outlives a failure, a stop or a shutdown.
#include "troupe/http.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <variant>
#include <vector>

#include <curl/curl.h>

#include "troupe/actor.hpp"
#include "troupe/system.hpp"

namespace troupe {

const char* to_string(HttpFailure failure) noexcept {
  switch (failure) {
    case HttpFailure::dns:
      return "dns";
    case HttpFailure::connection_refused:
      return "connection_refused";
    case HttpFailure::timeout:
      return "timeout";
    case HttpFailure::status:
      return "status";
    case HttpFailure::too_large:
      return "too_large";
    case HttpFailure::interrupted:
      return "interrupted";
    case HttpFailure::file:
      return "file";
    case HttpFailure::other:
      return "other";
  }
  return "unknown";
}

namespace detail {

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("HttpClient: libcurl failed to initialise (curl_global_init)");
    }
  });
}

const char* reason_phrase(long status) {
  switch (status) {
    case 400:
      return " Bad Request";
    case 401:
      return " Unauthorized";
    case 403:
      return " Forbidden";
    case 404:
      return " Not Found";
    case 405:
      return " Method Not Allowed";
    case 408:
      return " Request Timeout";
    case 410:
      return " Gone";
    case 429:
      return " Too Many Requests";
    case 500:
      return " Internal Server Error";
    case 501:
      return " Not Implemented";
    case 502:
      return " Bad Gateway";
    case 503:
      return " Service Unavailable";
    case 504:
      return " Gateway Timeout";
    default:
      return "";
  }
}

/// 'path', for messages. Appended piece by piece: g++ 12 at -O3 warns (-Wrestrict, a false
/// positive in its std::string code) about `"'" + p.string() + "'"`; consumers saw it.
std::string quoted(const std::filesystem::path& p) {
  std::string out;
  out.reserve(p.native().size() + 2);
  out += '\'';
  out += p.native();
  out += '\'';
  return out;
}

}  // namespace

// -- the multi handle ------------------------------------------------------------------------

/// The libcurl multi handle, driven through libcurl's socket interface: libcurl tells us
/// which sockets to watch and when its next timeout is due (the two callbacks below), we
/// wait for them with epoll, and hand libcurl only the sockets that are ready. So a pump
/// costs what happened since the last one, not a walk over every transfer in flight (what
/// curl_multi_poll + curl_multi_perform cost, which with a thousand transfers made opening
/// them quadratic). The actor drives it; other threads only wake it up (an eventfd the
/// epoll set watches). Shared, so a wake-up never meets a closed descriptor.
class Multi {
 public:
  explicit Multi(std::size_t max_connections)
      : handle(curl_multi_init()),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_;
    if (handle == nullptr || epoll_ < 0 || wake_ < 0 ||
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0) {
      release();
      throw std::runtime_error("HttpClient: cannot set up libcurl's multi handle and its epoll");
    }
    // Keep at most as many idle connections as transfers may run at once.
    curl_multi_setopt(handle, CURLMOPT_MAXCONNECTS, static_cast<long>(max_connections));
    curl_multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, &Multi::on_socket);
    curl_multi_setopt(handle, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(handle, CURLMOPT_TIMERFUNCTION, &Multi::on_timer);
    curl_multi_setopt(handle, CURLMOPT_TIMERDATA, this);
  }
  ~Multi() { release(); }
  Multi(const Multi&) = delete;
  Multi& operator=(const Multi&) = delete;

  /// Cuts the actor's wait short. Thread-safe, never blocks.
  void wake() const noexcept {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_, &one, sizeof one);
  }

  /// Waits at most `limit` for a ready socket, libcurl's timeout or a wake-up, and lets
  /// libcurl act on what is ready. Finished transfers are then in curl_multi_info_read.
  /// Call only from the actor's thread.
  void run(std::chrono::milliseconds limit) {
    int wait = static_cast<int>(limit.count());
    if (timer_armed_) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(timer_due_ -
                                                               std::chrono::steady_clock::now());
      wait = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, wait));
    }
    epoll_event events[256];
    int ready = ::epoll_wait(epoll_, events, 256, wait);
    int running = 0;
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_) {
        std::uint64_t count = 0;
        [[maybe_unused]] ssize_t n = ::read(wake_, &count, sizeof count);
        continue;
      }
      int flags = 0;
      if ((events[i].events & (EPOLLIN | EPOLLHUP)) != 0) flags |= CURL_CSELECT_IN;
      if ((events[i].events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
      if ((events[i].events & EPOLLERR) != 0) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(handle, fd, flags, &running);
    }
    if (timer_armed_ && std::chrono::steady_clock::now() >= timer_due_) {
      timer_armed_ = false;
      curl_multi_socket_action(handle, CURL_SOCKET_TIMEOUT, 0, &running);
    }
  }

  CURLM* const handle;

 private:
  /// libcurl: watch `s` for `what` (CURL_POLL_IN, _OUT, _INOUT), or stop (CURL_POLL_REMOVE).
  static int on_socket(CURL*, curl_socket_t s, int what, void* self, void*) {
    auto* m = static_cast<Multi*>(self);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(m->epoll_, EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events =
        ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (::epoll_ctl(m->epoll_, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
      ::epoll_ctl(m->epoll_, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
  }

  /// libcurl: call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in `ms` (-1: never).
  static int on_timer(CURLM*, long ms, void* self) {
    auto* m = static_cast<Multi*>(self);
    m->timer_armed_ = ms >= 0;
    m->timer_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    return 0;
  }

  void release() noexcept {
    if (handle != nullptr) curl_multi_cleanup(handle);
    if (epoll_ >= 0) ::close(epoll_);
    if (wake_ >= 0) ::close(wake_);
  }

  int epoll_;
  int wake_;
  bool timer_armed_ = false;  // the actor's thread only
  std::chrono::steady_clock::time_point timer_due_{};
};

// -- one transfer ----------------------------------------------------------------------------

/// One request, from the caller's thread to the actor and through libcurl. Owned by one
/// thread at a time (the Submit message hands it over).
class Transfer {
 public:
  Transfer(std::string url, RequestOptions options, Promise<HttpResponse> promise)
      : url_(std::move(url)), options_(options), promise_(std::move(promise)) {}
  Transfer(std::string url, std::filesystem::path to, RequestOptions options,
           Promise<Download> promise)
      : url_(std::move(url)), to_(std::move(to)), options_(options), promise_(std::move(promise)) {}
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  /// Removes the temporary file, frees the easy handle (the actor has removed it from the
  /// multi handle) and, if nothing answered yet, fails the future with ActorStopped.
  ~Transfer() {
    discard_file();
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    if (!answered_) {
      try {
        answer(std::make_exception_ptr(ActorStopped(
            "GET " + url_ + ": the HTTP client stopped before the transfer finished")));
      } catch (...) {  // allocation failed: the dropped promise breaks the future instead
      }
    }
  }

  bool is_download() const noexcept { return promise_.index() == 1; }
  const std::string& url() const noexcept { return url_; }
  const std::filesystem::path& to() const noexcept { return to_; }
  const RequestOptions& options() const noexcept { return options_; }
  CURL* easy() const noexcept { return easy_; }
  const std::string& host_key() const noexcept { return host_key_; }

  /// Fails the future with HttpError(kind): "GET <url>: <what>". Removes the temporary file.
  void fail(HttpFailure kind, const std::string& what, long status = 0) {
    discard_file();
    answer(std::make_exception_ptr(HttpError(kind, url_, status, "GET " + url_ + ": " + what)));
  }

  /// Checks the URL (http or https, with a host) and keeps its scheme://host:port as the
  /// key of the per-host cap. False (and the future failed) for an unusable URL.
  bool parse_url() {
    std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), &curl_url_cleanup);
    if (!u) throw std::bad_alloc();
    auto part = [&](CURLUPart which, unsigned flags, std::string& out) {
      char* text = nullptr;
      if (curl_url_get(u.get(), which, &text, flags) != CURLUE_OK) return false;
      std::unique_ptr<char, void (*)(void*)> owned(text, &curl_free);
      out = text;
      return true;
    };
    std::string scheme;
    std::string port;
    bool parsed = curl_url_set(u.get(), CURLUPART_URL, url_.c_str(), 0) == CURLUE_OK &&
                  part(CURLUPART_SCHEME, 0, scheme);
    bool web = parsed && (scheme == "http" || scheme == "https");
    bool complete =
        web && part(CURLUPART_HOST, 0, host_) && part(CURLUPART_PORT, CURLU_DEFAULT_PORT, port);
    if (parsed && !web) {
      fail(HttpFailure::other, "only http and https URLs are supported, not " + scheme);
      return false;
    }
    if (!complete) {
      fail(HttpFailure::other, "not a valid URL (expected http://host/path or https://...)");
      return false;
    }
    host_key_ = scheme + "://" + host_ + ":" + port;
    return true;
  }

  /// Creates "<to>.part-<random>" next to the target. False (and the future failed) if the
  /// folder is not writable.
  bool open_file(std::mt19937_64& random) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      char hex[17] = {};
      std::to_chars(hex, hex + 16, random(), 16);
      std::string name = to_.string() + ".part-" + hex;
      int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0) {
        fd_ = fd;
        temp_ = std::move(name);
        return true;
      }
      if (int error = errno; error != EEXIST) {
        fail(HttpFailure::file, "cannot write " + quoted(to_) + ": " + std::strerror(error));
        return false;
      }
    }
    fail(HttpFailure::file, "cannot create a temporary file next to " + quoted(to_));
    return false;
  }

  /// Builds the easy handle. False (and the future failed) if libcurl refuses.
  bool prepare(const HttpOptions& client) {
    easy_ = curl_easy_init();
    if (easy_ == nullptr) {
      fail(HttpFailure::other, "libcurl could not create a transfer (out of memory?)");
      return false;
    }
    limit_ = options_.max_body != 0 ? options_.max_body : client.max_body;
    timeout_ = options_.timeout.count() > 0 ? options_.timeout : client.timeout;
    error_[0] = '\0';
    CURL* e = easy_;
    curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);  // status >= 400: an error, no body
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // whatever this libcurl decodes
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    curl_easy_setopt(e, CURLOPT_USERAGENT, client.user_agent.c_str());
    if (limit_ <= static_cast<std::uint64_t>(std::numeric_limits<curl_off_t>::max())) {
      // Refuses at once a body whose announced length is too large; on_data catches the rest.
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limit_));
    }
    return true;
  }

  /// Answers the future from libcurl's result for this transfer.
  void finish(CURLcode result) {
    if (result == CURLE_OK) {
      succeed();
    } else {
      fail_from(result);
    }
  }

 private:
  static std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t bytes = size * count;
    if (bytes > t->limit_ - std::min(t->limit_, t->received_)) {
      t->too_large_ = true;
      return 0;  // anything but `bytes` aborts the transfer
    }
    if (t->fd_ >= 0) {
      std::size_t done = 0;
      while (done < bytes) {
        ssize_t n = ::write(t->fd_, data + done, bytes - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          t->file_errno_ = errno;
          return 0;
        }
        done += static_cast<std::size_t>(n);
      }
    } else {
      t->body_.append(data, bytes);
    }
    t->received_ += bytes;
    return bytes;
  }

  void succeed() {
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    auto elapsed = std::chrono::steady_clock::now() - created_;
    if (!is_download()) {
      char* type = nullptr;
      curl_easy_getinfo(easy_, CURLINFO_CONTENT_TYPE, &type);
      answered_ = true;
      std::get<0>(promise_).set_value(
          HttpResponse{url_, status, std::move(body_), type != nullptr ? type : "", elapsed});
      return;
    }
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) {
      int error = errno;
      fail(HttpFailure::file, "cannot write " + quoted(to_) + ": " + std::strerror(error));
      return;
    }
    if (!commit()) return;
    temp_.clear();  // it is the target now
    answered_ = true;
    std::get<1>(promise_).set_value(Download{url_, to_, received_, elapsed});
  }

  /// Renames the temporary file to the target; without `overwrite`, never replaces a file
  /// that appeared meanwhile. False (and the future failed) if the rename fails.
  bool commit() {
    int rc = 0;
    if (options_.overwrite) {
      rc = ::rename(temp_.c_str(), to_.c_str());
    } else {
      rc = ::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, to_.c_str(), RENAME_NOREPLACE);
      if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
        // The file system cannot rename without replacing: link (which never replaces),
        // then drop the temporary name.
        rc = ::link(temp_.c_str(), to_.c_str());
        if (rc == 0) ::unlink(temp_.c_str());
      }
    }
    if (rc == 0) return true;
    if (int error = errno; error == EEXIST) {
      fail(HttpFailure::file, quoted(to_) + " already exists (pass overwrite to replace it)");
    } else {
      fail(HttpFailure::file, "cannot write " + quoted(to_) + ": " + std::strerror(error));
    }
    return false;
  }

  void fail_from(CURLcode result) {
    if (too_large_ || result == CURLE_FILESIZE_EXCEEDED) {
      fail(HttpFailure::too_large,
           "the body is larger than the limit of " + std::to_string(limit_) + " bytes");
      return;
    }
    if (file_errno_ != 0) {
      fail(HttpFailure::file, "cannot write " + quoted(to_) + ": " + std::strerror(file_errno_));
      return;
    }
    std::string detail = error_[0] != '\0' ? error_ : curl_easy_strerror(result);
    switch (result) {
      case CURLE_COULDNT_RESOLVE_HOST:
        fail(HttpFailure::dns, "could not resolve host '" + host_ + "'");
        return;
      case CURLE_COULDNT_RESOLVE_PROXY:
        fail(HttpFailure::dns, "could not resolve the proxy (" + detail + ")");
        return;
      case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno == ECONNREFUSED || os_errno == 0) {
          fail(HttpFailure::connection_refused, "connection refused");
        } else {
          fail(HttpFailure::connection_refused,
               std::string("could not connect: ") + std::strerror(static_cast<int>(os_errno)));
        }
        return;
      }
      case CURLE_OPERATION_TIMEDOUT:
        fail(HttpFailure::timeout, "timed out after " + std::to_string(timeout_.count()) + " ms");
        return;
      case CURLE_HTTP_RETURNED_ERROR: {
        long status = 0;
        curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
        fail(HttpFailure::status, "HTTP " + std::to_string(status) + reason_phrase(status), status);
        return;
      }
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
        fail(HttpFailure::interrupted,
             "the connection closed before the whole body arrived (" + detail + ")");
        return;
      default:
        fail(HttpFailure::other, detail);
        return;
    }
  }

  void answer(std::exception_ptr error) {
    answered_ = true;
    std::visit([&](auto& p) { p.set_exception(std::move(error)); }, promise_);
  }

  void discard_file() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!temp_.empty()) {
      ::unlink(temp_.c_str());
      temp_.clear();
    }
  }

  std::string url_;
  std::filesystem::path to_;
  RequestOptions options_;
  std::variant<Promise<HttpResponse>, Promise<Download>> promise_;
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
  bool answered_ = false;

  // Set by the actor when the transfer starts.
  std::string host_;
  std::string host_key_;
  CURL* easy_ = nullptr;
  std::uint64_t limit_ = 0;
  std::chrono::milliseconds timeout_{0};
  std::string body_;  // get(): the body so far
  int fd_ = -1;       // download(): the temporary file
  std::string temp_;  // download(): its name, "" once renamed or removed
  std::uint64_t received_ = 0;
  bool too_large_ = false;
  int file_errno_ = 0;
  char error_[CURL_ERROR_SIZE];
};

// -- the actor -------------------------------------------------------------------------------

struct Submit {
  std::unique_ptr<Transfer> transfer;
};
struct Pump {};
struct Retire {};  // the last handle is gone: finish what is there, then stop

class HttpActor : public Actor {
 public:
  HttpActor(HttpOptions options, std::shared_ptr<Multi> multi)
      : options_(std::move(options)),
        multi_(std::move(multi)),
        random_(std::random_device{}() ^
                static_cast<std::uint64_t>(
                    std::chrono::steady_clock::now().time_since_epoch().count())) {}

  /// Stopping (or a shutdown) lands here: transfers in flight and waiting fail with
  /// ActorStopped, and their temporary files go (see ~Transfer).
  ~HttpActor() override {
    for (auto& [easy, t] : running_) curl_multi_remove_handle(multi_->handle, easy);
    running_.clear();
    waiting_.clear();
  }

  void on(Submit s) {
    Transfer& t = *s.transfer;
    try {
      if (!t.parse_url()) return;
      if (t.is_download() && !t.options().overwrite) {
        std::error_code ec;
        auto status = std::filesystem::symlink_status(t.to(), ec);
        if (!ec && status.type() != std::filesystem::file_type::not_found) {
          t.fail(HttpFailure::file,
                 quoted(t.to()) + " already exists (pass overwrite to replace it)");
          return;
        }
      }
      waiting_.push_back(std::move(s.transfer));
    } catch (...) {
      if (s.transfer) s.transfer->fail(HttpFailure::other, describe(std::current_exception()));
      return;
    }
    start_waiting();
    pump_later();
  }

  void on(Pump) {
    pump_queued_ = false;
    if (!running_.empty()) {
      // Returns on socket activity, at libcurl's next timer, on a wake-up, or after 10 ms.
      multi_->run(std::chrono::milliseconds(10));
      harvest();
    }
    start_waiting();
    pump_later();
    stop_if_retired();
  }

  void on(Retire) {
    retired_ = true;
    stop_if_retired();
  }

 private:
  /// Starts waiting transfers, oldest first, while the caps allow; a transfer whose host is
  /// at max_per_host waits without holding back those to other hosts.
  void start_waiting() {
    for (auto it = waiting_.begin();
         it != waiting_.end() && running_.size() < options_.max_concurrent;) {
      auto host = per_host_.find((*it)->host_key());
      if (options_.max_per_host != 0 && host != per_host_.end() &&
          host->second >= options_.max_per_host) {
        ++it;
        continue;
      }
      std::unique_ptr<Transfer> t = std::move(*it);
      it = waiting_.erase(it);
      start(std::move(t));
    }
  }

  void start(std::unique_ptr<Transfer> t) {
    try {
      if (t->is_download() && !t->open_file(random_)) return;
      if (!t->prepare(options_)) return;
      if (CURLMcode rc = curl_multi_add_handle(multi_->handle, t->easy()); rc != CURLM_OK) {
        t->fail(HttpFailure::other,
                std::string("libcurl refused the transfer: ") + curl_multi_strerror(rc));
        return;
      }
      ++per_host_[t->host_key()];
      CURL* easy = t->easy();
      running_.emplace(easy, std::move(t));
    } catch (...) {
      t->fail(HttpFailure::other, describe(std::current_exception()));
    }
  }

  /// Answers every finished transfer and frees its slot.
  void harvest() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_->handle, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      CURLcode result = msg->data.result;  // `msg` dies with remove_handle
      auto it = running_.find(easy);
      if (it == running_.end()) continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      running_.erase(it);
      curl_multi_remove_handle(multi_->handle, easy);
      if (auto host = per_host_.find(t->host_key());
          host != per_host_.end() && --host->second == 0) {
        per_host_.erase(host);
      }
      try {
        t->finish(result);
      } catch (...) {
        t->fail(HttpFailure::other, describe(std::current_exception()));
      }
    }
  }

  /// Keeps one Pump queued while anything is in flight.
  void pump_later() {
    if (pump_queued_ || running_.empty()) return;
    pump_queued_ = true;
    self<HttpActor>().tell(Pump{});
  }

  void stop_if_retired() {
    if (retired_ && running_.empty() && waiting_.empty()) stop();
  }

  HttpOptions options_;
  std::shared_ptr<Multi> multi_;
  std::deque<std::unique_ptr<Transfer>> waiting_;                 // in arrival order
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> running_;  // in the multi handle
  std::unordered_map<std::string, std::size_t> per_host_;         // running, by scheme://host:port
  std::mt19937_64 random_;                                        // temporary file names
  bool pump_queued_ = false;
  bool retired_ = false;
};

// -- the handle's shared state ---------------------------------------------------------------

struct HttpClientState {
  HttpClientState(Ref<HttpActor> a, std::shared_ptr<Multi> m)
      : actor(std::move(a)), multi(std::move(m)) {}
  /// The last handle is gone: nobody can submit any more, so the actor may stop once the
  /// transfers it has are answered.
  ~HttpClientState() {
    if (!actor.alive()) return;  // stopped already (a shutdown): no dead letter to count
    actor.tell(Retire{});
    multi->wake();
  }
  HttpClientState(const HttpClientState&) = delete;
  HttpClientState& operator=(const HttpClientState&) = delete;

  void submit(std::unique_ptr<Transfer> t) const {
    actor.tell(Submit{std::move(t)});  // refused: the Transfer fails with ActorStopped
    multi->wake();                     // cut a poll short: start it now, not in 10 ms
  }

  Ref<HttpActor> actor;
  std::shared_ptr<Multi> multi;
};

}  // namespace detail

// -- HttpClient ----------------------------------------------------------------------------------

HttpClient::HttpClient(System& system, HttpOptions options) {
  if (options.max_concurrent == 0)
    throw std::invalid_argument("HttpClient: max_concurrent must be >= 1");
  if (options.timeout.count() <= 0) throw std::invalid_argument("HttpClient: timeout must be > 0");
  detail::init_curl_once();
  auto multi = std::make_shared<detail::Multi>(options.max_concurrent);
  SpawnOptions spawn{.name = options.name, .daemon = true, .dedicated_thread = true};
  auto actor = system.spawn<detail::HttpActor>(std::move(spawn), std::move(options), multi);
  state_ = std::make_shared<detail::HttpClientState>(std::move(actor), std::move(multi));
}

Future<HttpResponse> HttpClient::get(std::string url, RequestOptions options) const {
  Promise<HttpResponse> promise;
  Future<HttpResponse> future = promise.future();
  state_->submit(std::make_unique<detail::Transfer>(std::move(url), options, std::move(promise)));
  return future;
}

Future<Download> HttpClient::download(std::string url, std::filesystem::path to,
                                      RequestOptions options) const {
  Promise<Download> promise;
  Future<Download> future = promise.future();
  state_->submit(std::make_unique<detail::Transfer>(std::move(url), std::move(to), options,
                                                    std::move(promise)));
  return future;
}

void HttpClient::stop() const noexcept {
  state_->actor.stop();
  state_->multi->wake();
}

bool HttpClient::alive() const noexcept { return state_->actor.alive(); }

}  // namespace troupe
