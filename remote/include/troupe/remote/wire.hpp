// troupe/remote/wire.hpp - how a message type crosses the wire: a stable name and a cereal
// codec.
//
//   struct Add {
//     int amount = 0;
//     template <class Archive>
//     void serialize(Archive& ar) { ar(amount); }      // cereal, as usual
//   };
//   TROUPE_REMOTE_MESSAGE(Add, "counter.add.v1");      // at namespace scope, once
//
// The name, not the C++ type, identifies the message on the wire: keep it when a type is
// renamed, change it (".v2") when its layout changes. A type without a name does not
// compile at a remote send site (RemoteRef::tell / ask say so in a static_assert).
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

namespace troupe {

/// The wire name of a message type. Specialised by TROUPE_REMOTE_MESSAGE; the primary
/// template has none, which is how a missing registration is found at compile time.
template <class M>
struct WireName;

/// True when M was given a wire name (TROUPE_REMOTE_MESSAGE).
template <class M>
concept HasWireName = requires {
  { WireName<std::remove_cvref_t<M>>::value } -> std::convertible_to<std::string_view>;
};

/// True when cereal's binary archives can write and read M (a serialize member or free
/// function, or a save/load pair; arithmetic types and std::string work out of the box).
template <class M>
concept WireEncodable = std::is_void_v<M> ||
    (cereal::traits::is_output_serializable<M, cereal::BinaryOutputArchive>::value&&
         cereal::traits::is_input_serializable<M, cereal::BinaryInputArchive>::value&&
             std::is_default_constructible_v<M>);

namespace detail::remote {

/// A read-only streambuf over bytes someone else owns (decoding without a copy).
class ViewBuf : public std::streambuf {
 public:
  ViewBuf() = default;
  ViewBuf(const char* data, std::size_t size) { view(data, size); }
  void view(const char* data, std::size_t size) {
    char* p = const_cast<char*>(data);  // never written: the buffer is only read from
    setg(p, p, p + size);
  }
};

/// A write-only streambuf appending to a std::string (encoding without a second copy).
class StringSink : public std::streambuf {
 public:
  std::string* out = nullptr;

 protected:
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out->push_back(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out->append(s, static_cast<std::size_t>(n));
    return n;
  }
};

/// Encodes `value` with cereal's binary archive. Throws what cereal throws.
/// A stream per thread is reused: building one per message costs more than the encoding.
template <class M>
std::string encode(const M& value) {
  thread_local StringSink sink;
  thread_local std::ostream stream(&sink);
  std::string out;
  struct Target {  // points the sink at `out` for this call (and back, even on a throw)
    StringSink& sink;
    std::string* saved;
    ~Target() { sink.out = saved; }
  } target{sink, std::exchange(sink.out, &out)};
  stream.clear();
  {
    cereal::BinaryOutputArchive archive(stream);
    archive(value);
  }
  return out;
}

/// Decodes a value of type M from `bytes`. Throws cereal::Exception on truncated input,
/// and std::runtime_error if bytes are left over.
template <class M>
M decode(std::string_view bytes) {
  thread_local ViewBuf buf;
  thread_local std::istream in(&buf);
  buf.view(bytes.data(), bytes.size());
  in.clear();
  M value{};
  {
    cereal::BinaryInputArchive archive(in);
    archive(value);
  }
  if (buf.in_avail() > 0) throw std::runtime_error("trailing bytes after the message");
  return value;
}

}  // namespace detail::remote
}  // namespace troupe

/// Gives message type `Type` the stable wire name `Name` (a string literal, e.g.
/// "counter.add.v1"). Use once, at global namespace scope, in a header both sides include.
#define TROUPE_REMOTE_MESSAGE(Type, Name)           \
  template <>                                       \
  struct troupe::WireName<Type> {                   \
    static constexpr std::string_view value = Name; \
  }
