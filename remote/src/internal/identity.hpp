// remote/src/internal/identity.hpp - how nodes and names are spelt: incarnations in hex,
// fresh incarnations, and the tokens that may appear in a NATS subject.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::detail::remote {

/// `v` as 16 hex digits (incarnations in subjects and log lines).
std::string hex(std::uint64_t v);

/// A new incarnation number: the time in microseconds mixed with random bits, so that a
/// node that rejoins never reuses one.
std::uint64_t fresh_incarnation();

/// A subject token: non-empty, no dots, wildcards or whitespace.
bool valid_token(std::string_view s);

}  // namespace troupe::detail::remote
