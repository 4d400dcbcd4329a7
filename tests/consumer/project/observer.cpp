// troupe-observer from outside the troupe tree: an Observer on a free loopback port, linked
// on its own beside the core. No request is made.
#include <cstdio>

#include <troupe/observer.hpp>
#include <troupe/troupe.hpp>

int main() {
  troupe::System system;
  troupe::Observer observer(system, {.announce = false});
  std::printf("observer %s\n", observer.port() > 0 ? "serving" : "not serving");
  std::fflush(stdout);
  return observer.port() > 0 ? 0 : 1;
}
