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
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>

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
  ViewBuf(const char* data, std::size_t size) {
    char* p = const_cast<char*>(data);  // never written: the buffer is only read from
    setg(p, p, p + size);
  }
};

/// Encodes `value` with cereal's binary archive. Throws what cereal throws.
template <class M>
std::string encode(const M& value) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::BinaryOutputArchive archive(out);
    archive(value);
  }
  return std::move(out).str();
}

/// Decodes a value of type M from `bytes`. Throws cereal::Exception on truncated input,
/// and std::runtime_error if bytes are left over.
template <class M>
M decode(std::string_view bytes) {
  ViewBuf buf(bytes.data(), bytes.size());
  std::istream in(&buf);
  M value{};
  {
    cereal::BinaryInputArchive archive(in);
    archive(value);
  }
  if (in.rdbuf()->in_avail() > 0) throw std::runtime_error("trailing bytes after the message");
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
