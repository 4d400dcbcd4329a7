// Helpers shared by the tests of troupe-http and the fixture server: a temporary folder, file
// reading, a port nobody listens on, and the HttpError a future failed with.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "../support.hpp"
#include <troupe/future.hpp>
#include <troupe/http.hpp>

namespace net_test {

using namespace std::chrono_literals;

/// How long any single wait in these tests may take before the test fails (not hangs).
constexpr auto kPatience = std::chrono::seconds(30);

/// A fresh folder under the system's temporary directory, removed with its content.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "troupe-net-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  /// The names of the entries in the folder.
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      out.insert(entry.path().filename().string());
    }
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

/// A loopback port that was free a moment ago and has no listener now.
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// What an HttpError said, copied out of it. (Copying the HttpError itself would share its
/// message buffer, reference-counted inside libstdc++, with the client's thread; TSan cannot
/// see that count and would report the last release as a race.)
struct Failure {
  troupe::HttpFailure failure;
  long status;
  std::string url;
  std::string message;
};

/// How `f` failed with an HttpError (waiting at most kPatience); nullopt if it succeeded or
/// failed with something else.
template <class R>
std::optional<Failure> http_error(const troupe::Future<R>& f) {
  if (!f.wait_for(kPatience)) return std::nullopt;
  try {
    f.get();
  } catch (const troupe::HttpError& e) {
    return Failure{e.failure(), e.status(), e.url(), std::string(e.what())};
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

/// "value", "ActorStopped", "HttpError(<kind>)", "not ready" or the other error's text.
template <class R>
std::string outcome(const troupe::Future<R>& f) {
  if (!f.wait_for(kPatience)) return "not ready";
  try {
    f.get();
    return "value";
  } catch (const troupe::HttpError& e) {
    return std::string("HttpError(") + troupe::to_string(e.failure()) + ")";
  } catch (const troupe::ActorStopped&) {
    return "ActorStopped";
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
}

/// support::eventually with this suite's longer patience (HTTP under sanitizers is slow).
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = kPatience) {
  return support::eventually(std::move(done), limit);
}

}  // namespace net_test
