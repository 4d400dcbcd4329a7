// troupe/system_actors.hpp - the system actors of the troupe-actors library in one include:
// Event, Semaphore, WorkQueue and SignalHandler. Link with `troupe-actors`.
#pragma once

#include "troupe/event.hpp"
#include "troupe/semaphore.hpp"
#include "troupe/signals.hpp"
#include "troupe/usage_error.hpp"
#include "troupe/work_queue.hpp"
