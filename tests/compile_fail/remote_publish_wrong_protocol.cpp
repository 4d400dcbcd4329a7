// Publishing an actor that does not implement the protocol it is published under.
// expect: troupe: the actor does not implement the protocol
#include <troupe/remote.hpp>
#include <troupe/troupe.hpp>

struct Get {
  template <class A>
  void serialize(A&) {}
};
TROUPE_REMOTE_MESSAGE(Get, "get.v1");

using GetProtocol = troupe::Protocol<troupe::Accepts<Get, int>>;

class Wrong : public troupe::Actor {
 public:
  long on(const Get&) { return 1; }  // answers long, the protocol says int
};

void publish(troupe::Node& node, const troupe::Ref<Wrong>& actor) {
  node.publish<GetProtocol>(actor, "wrong");
}

int main() {}
