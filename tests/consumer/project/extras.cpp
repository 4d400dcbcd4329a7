// The other two libraries from outside the troupe tree: a system actor (troupe-actors) and
// the HTTP client (troupe-http), each linked on its own beside the core. No request is made.
#include <chrono>
#include <cstdio>

#include <troupe/http.hpp>
#include <troupe/system_actors.hpp>
#include <troupe/troupe.hpp>

int main() {
  using namespace std::chrono_literals;
  troupe::System system;
  troupe::Event ready(system);
  ready.set();
  bool set = ready.wait(1s).get(5s);
  troupe::HttpClient http(system);
  bool alive = http.alive();
  std::printf("event %s, http client %s\n", set ? "set" : "not set", alive ? "alive" : "gone");
  std::fflush(stdout);
  http.stop();
  system.shutdown(5s);
  return set && alive ? 0 : 1;
}
