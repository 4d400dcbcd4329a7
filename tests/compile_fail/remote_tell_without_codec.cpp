// Telling a remote actor a message its protocol lists but that has no wire codec.
// expect: troupe: this message has no wire codec
#include <troupe/remote.hpp>

struct Ping {
  int n = 0;
  template <class A>
  void serialize(A& ar) {
    ar(n);
  }
};  // no TROUPE_REMOTE_MESSAGE(Ping, "...")

using PingProtocol = troupe::Protocol<troupe::Accepts<Ping>>;

bool ping(const troupe::RemoteRef<PingProtocol>& remote) { return remote.tell(Ping{1}); }

int main() {}
