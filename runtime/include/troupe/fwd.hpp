// troupe/fwd.hpp - forward declarations of troupe's public types.
//
// Include this instead of the full headers when a declaration is enough.
#pragma once

#include "troupe/export.hpp"

namespace troupe {

class Actor;
class System;
template <class T>
class Ref;
template <class R>
class Future;
template <class R>
class Promise;
template <class R>
class Task;
struct Down;
struct SpawnOptions;
struct SystemOptions;
struct ActorInfo;

namespace detail {
struct Access;
class Cell;
class Core;
struct Envelope;
}  // namespace detail

}  // namespace troupe
