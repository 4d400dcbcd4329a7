// internal/demangle.hpp - readable C++ type names for messages people read. Never installed.
#pragma once

#include <string>
#include <typeinfo>

namespace troupe::detail {

/// "troupe::ActorStopped" for typeid(troupe::ActorStopped); the mangled name if the ABI
/// cannot demangle it. Allocates; throws only std::bad_alloc. Defined in errors.cpp.
std::string demangle(const std::type_info& type);

}  // namespace troupe::detail
