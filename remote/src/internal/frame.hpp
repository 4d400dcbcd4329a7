// remote/src/internal/frame.hpp - the envelope every troupe frame travels in on NATS.
//
// NATS carries the bytes; this is only the small header that says what they are:
//   "TRP" 0x01 | kind u8 | incarnation u64 | id u64 | from, target, type (u16 length +
//   bytes each) | body length u32 | FNV-1a 64 of the body | body
// integers little-endian. A frame parses only if every length fits exactly and the body's
// hash matches, so random or truncated bytes are refused before cereal sees any of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::detail::remote {

enum class Kind : std::uint8_t {
  tell = 1,         ///< target: actor, type: wire name, body: message
  ask = 2,          ///< as tell; id: the ask's id (the NATS reply subject carries it too)
  reply = 3,        ///< id: ask id, body: encoded answer
  fail = 4,         ///< id: ask id, type: error kind, target: exception type, body: what()
  lookup = 5,       ///< target: published name
  found = 6,        ///< id: lookup id; from/incarnation: the holder
  heartbeat = 7,    ///< from/incarnation: who is alive; id: sequence
  down = 8,         ///< target: node declared down, id: its incarnation, type: reason
  watch = 9,        ///< target: actor the sender watches
  actor_down = 10,  ///< target: actor that ended, body: reason
};

/// A parsed frame; the views point into the bytes it was parsed from.
struct Frame {
  Kind kind{};
  std::uint64_t incarnation = 0;
  std::uint64_t id = 0;
  std::string_view from;
  std::string_view target;
  std::string_view type;
  std::string_view body;
};

/// The bytes of `frame`. Throws std::length_error if a name is longer than 65535 bytes.
std::string encode_frame(const Frame& frame);

/// Parses `bytes` into `out`; false (and `out` unspecified) if they are not a whole,
/// well-formed frame. Never reads outside `bytes`, never throws, never allocates.
bool parse_frame(std::string_view bytes, Frame& out) noexcept;

// -- batches ---------------------------------------------------------------------------------
// Several frames for one subject travel in one NATS message when the sender has more than
// one queued (fewer messages, writes and wake-ups on both sides):
//   "TRB" 0x01 | (frame length u32 | frame)*
// Each frame inside is checked by parse_frame as if it had come alone.

/// True if `bytes` start like a reply, fail or found frame (they may still be malformed).
bool is_answer(std::string_view bytes) noexcept;

/// True if `bytes` start like a batch (they may still be malformed).
bool is_batch(std::string_view bytes) noexcept;
/// Starts an empty batch in `out` (cleared first).
void start_batch(std::string& out);
/// Appends one encoded frame to a batch started with start_batch.
void append_to_batch(std::string& out, std::string_view frame);

/// Walks the frames of a batch without copying them.
class BatchReader {
 public:
  explicit BatchReader(std::string_view batch) noexcept;
  /// The next frame's bytes; false at the end, or when the rest is malformed (then !ok()).
  bool next(std::string_view& frame) noexcept;
  bool ok() const noexcept { return ok_; }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

}  // namespace troupe::detail::remote
