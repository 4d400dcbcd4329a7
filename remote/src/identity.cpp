// remote/src/identity.cpp - incarnations and subject tokens.
#include "internal/identity.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

namespace troupe::detail::remote {

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::uint64_t fresh_incarnation() {
  std::random_device rd;
  std::uint64_t r = (std::uint64_t{rd()} << 32) ^ rd();
  auto now = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                        std::chrono::microseconds(1));
  return (now << 16) ^ (r & 0xffff) ^ (r << 40);
}

/// A subject token: non-empty, no dots, wildcards or whitespace.
bool valid_token(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == '.' || c == '*' || c == '>' || c <= ' ' || c == 127;
  });
}

}  // namespace troupe::detail::remote
