// errors.cpp - describing exceptions for people.
#include "troupe/errors.hpp"

#include <cxxabi.h>

#include <new>
#include <string>
#include <typeinfo>

namespace troupe {

std::string describe(const std::exception_ptr& error) noexcept {
  if (!error) return "none";
  try {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      int status = 0;
      char* raw = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
      std::string type = status == 0 && raw != nullptr ? raw : typeid(e).name();
      std::free(raw);
      return type + ": " + e.what();
    } catch (const std::string& s) {
      return "std::string: " + s;
    } catch (const char* s) {
      return std::string("const char*: ") + s;
    } catch (int n) {
      return "int: " + std::to_string(n);
    } catch (...) {
      std::type_info* t = abi::__cxa_current_exception_type();
      return std::string("exception of type ") + (t != nullptr ? t->name() : "unknown");
    }
  } catch (...) {
    return "exception (could not be described)";
  }
}

}  // namespace troupe
