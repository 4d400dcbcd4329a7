// troupe/troupe.hpp - the usual set: System, Actor, Ref, Future, Task, when_all/when_any.
#pragma once

#include "troupe/actor.hpp"
#include "troupe/clock.hpp"
#include "troupe/down.hpp"
#include "troupe/errors.hpp"
#include "troupe/function_actor.hpp"
#include "troupe/future.hpp"
#include "troupe/options.hpp"
#include "troupe/ref.hpp"
#include "troupe/system.hpp"
#include "troupe/task.hpp"
#include "troupe/timer.hpp"
#include "troupe/when.hpp"
