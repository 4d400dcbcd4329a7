// bench/caf_remote_peer.hpp - CAF 0.17's own remoting (libcaf_io: the middleman, BASP over
// direct TCP) as the peer of troupe-remote-bench: the same echo-and-count actor, published
// on a loopback port by a far process and reached with `remote_actor` by the near one.
#pragma once

#include <cstdint>
#include <string>

namespace caf_peer {

/// What the near side measured. `error` is non-empty if the run did not complete.
struct Results {
  double ask_p50_us = 0;
  double ask_p99_us = 0;
  double tell_1 = 0;  ///< msg/s, one sender thread
  double tell_8 = 0;  ///< msg/s, eight sender threads
  std::string error;
};

/// The far side: publishes the echo actor on 127.0.0.1 (a port the kernel picks), prints
/// "PORT <n>" on stdout, and serves until stdin closes. Returns the exit code.
int serve();

/// The near side: `asks` round trips one at a time from a blocking scoped_actor (as a
/// plain thread waits on a troupe ask's get()), then `tells` one-way sends from one and from
/// eight threads, each timed until the actor has counted them all.
Results measure(std::uint16_t port, long asks, long tells);

}  // namespace caf_peer
