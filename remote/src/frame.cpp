// remote/src/frame.cpp - encoding and bounds-checked parsing of troupe frames.
#include "internal/frame.hpp"

#include <cstring>
#include <stdexcept>

namespace troupe::detail::remote {
namespace {

constexpr char kMagic[4] = {'T', 'R', 'P', 1};
constexpr std::size_t kFixed = 4 + 1 + 8 + 8;

std::uint64_t fnv1a(std::string_view bytes) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

template <class U>
void put(std::string& out, U value) {
  for (std::size_t i = 0; i < sizeof(U); ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void put_text(std::string& out, std::string_view text) {
  if (text.size() > 0xffff)
    throw std::length_error("troupe: a name in a frame exceeds 65535 bytes");
  put<std::uint16_t>(out, static_cast<std::uint16_t>(text.size()));
  out.append(text);
}

/// Reads from a byte range, failing (sticky) instead of reading past its end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) noexcept : bytes_(bytes) {}
  template <class U>
  U get() noexcept {
    U value = 0;
    if (!ok_ || bytes_.size() - pos_ < sizeof(U)) {
      ok_ = false;
      return value;
    }
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      value |= static_cast<U>(static_cast<unsigned char>(bytes_[pos_ + i])) << (8 * i);
    }
    pos_ += sizeof(U);
    return value;
  }
  std::string_view take(std::size_t n) noexcept {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::string_view text() noexcept { return take(get<std::uint16_t>()); }
  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string encode_frame(const Frame& f) {
  std::string out;
  out.reserve(kFixed + 6 + 12 + f.from.size() + f.target.size() + f.type.size() + f.body.size());
  out.append(kMagic, sizeof(kMagic));
  out.push_back(static_cast<char>(f.kind));
  put<std::uint64_t>(out, f.incarnation);
  put<std::uint64_t>(out, f.id);
  put_text(out, f.from);
  put_text(out, f.target);
  put_text(out, f.type);
  if (f.body.size() > 0xffffffffu) throw std::length_error("troupe: a frame body exceeds 4 GiB");
  put<std::uint32_t>(out, static_cast<std::uint32_t>(f.body.size()));
  put<std::uint64_t>(out, fnv1a(f.body));
  out.append(f.body);
  return out;
}

bool parse_frame(std::string_view bytes, Frame& out) noexcept {
  if (bytes.size() < kFixed || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return false;
  Reader r(bytes.substr(sizeof(kMagic)));
  auto kind = r.get<std::uint8_t>();
  if (kind < static_cast<std::uint8_t>(Kind::tell) ||
      kind > static_cast<std::uint8_t>(Kind::actor_down)) {
    return false;
  }
  out.kind = static_cast<Kind>(kind);
  out.incarnation = r.get<std::uint64_t>();
  out.id = r.get<std::uint64_t>();
  out.from = r.text();
  out.target = r.text();
  out.type = r.text();
  auto length = r.get<std::uint32_t>();
  auto hash = r.get<std::uint64_t>();
  out.body = r.take(length);
  return r.ok() && r.at_end() && fnv1a(out.body) == hash;
}

namespace {
constexpr char kBatchMagic[4] = {'T', 'R', 'B', 1};
}

bool is_answer(std::string_view bytes) noexcept {
  if (bytes.size() < kFixed || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return false;
  auto kind = static_cast<Kind>(bytes[sizeof(kMagic)]);
  return kind == Kind::reply || kind == Kind::fail || kind == Kind::found;
}

bool is_batch(std::string_view bytes) noexcept {
  return bytes.size() >= sizeof(kBatchMagic) &&
         std::memcmp(bytes.data(), kBatchMagic, sizeof(kBatchMagic)) == 0;
}

void start_batch(std::string& out) {
  out.clear();
  out.append(kBatchMagic, sizeof(kBatchMagic));
}

void append_to_batch(std::string& out, std::string_view frame) {
  if (frame.size() > 0xffffffffu) throw std::length_error("troupe: a frame exceeds 4 GiB");
  put<std::uint32_t>(out, static_cast<std::uint32_t>(frame.size()));
  out.append(frame);
}

BatchReader::BatchReader(std::string_view batch) noexcept
    : rest_(is_batch(batch) ? batch.substr(sizeof(kBatchMagic)) : std::string_view()),
      ok_(is_batch(batch)) {}

bool BatchReader::next(std::string_view& frame) noexcept {
  if (!ok_ || rest_.empty()) return false;
  Reader r(rest_);
  auto length = r.get<std::uint32_t>();
  frame = r.take(length);
  if (!r.ok()) {
    ok_ = false;
    return false;
  }
  rest_.remove_prefix(sizeof(std::uint32_t) + length);
  return true;
}

}  // namespace troupe::detail::remote
