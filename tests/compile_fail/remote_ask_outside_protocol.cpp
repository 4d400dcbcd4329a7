// Asking a remote actor a message its protocol does not list.
// expect: troupe: this message is not in the remote actor's protocol
#include <troupe/remote.hpp>

struct Ping {
  template <class A>
  void serialize(A&) {}
};
struct Pong {
  template <class A>
  void serialize(A&) {}
};
TROUPE_REMOTE_MESSAGE(Ping, "ping.v1");
TROUPE_REMOTE_MESSAGE(Pong, "pong.v1");

using PingProtocol = troupe::Protocol<troupe::Accepts<Ping, int>>;

void ask(const troupe::RemoteRef<PingProtocol>& remote) { remote.ask(Pong{}); }

int main() {}
