// troupe/remote.hpp - the umbrella header of troupe-remote: actors in other processes
// and on other hosts, over NATS.
#pragma once

#include "troupe/remote/errors.hpp"
#include "troupe/remote/events.hpp"
#include "troupe/remote/node.hpp"
#include "troupe/remote/protocol.hpp"
#include "troupe/remote/remote_ref.hpp"
#include "troupe/remote/wire.hpp"
