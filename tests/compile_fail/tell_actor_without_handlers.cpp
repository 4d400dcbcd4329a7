// Telling an actor class that declares no handler at all.
// expect: troupe: the actor class has no handler
#include <troupe/troupe.hpp>

struct Ping {};
class Silent : public troupe::Actor {};

void ping(const troupe::Ref<Silent>& silent) { silent.tell(Ping{}); }

int main() {}
