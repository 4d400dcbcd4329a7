// remote/src/wire_error.cpp - exceptions to and from their wire form.
#include "internal/wire_error.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <typeinfo>

#include "troupe/errors.hpp"
#include "troupe/remote/errors.hpp"

namespace troupe::detail::remote {

namespace {

std::string demangle(const char* name) {
  int status = 0;
  char* raw = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && raw != nullptr ? raw : name;
  std::free(raw);
  return out;
}

}  // namespace

WireError classify(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ActorStopped& e) {
    return {"no_actor", "troupe::ActorStopped", e.what()};
  } catch (const NoSuchActor& e) {
    return {"no_actor", "troupe::NoSuchActor", e.what()};
  } catch (const MailboxFull& e) {
    return {"full", "troupe::MailboxFull", e.what()};
  } catch (const CodecError& e) {
    return {"codec", "troupe::CodecError", e.what()};
  } catch (const std::exception& e) {
    return {"exception", demangle(typeid(e).name()), e.what()};
  } catch (...) {
    return {"exception", "unknown", "a value that is not a std::exception was thrown"};
  }
}

std::exception_ptr rebuild(std::string_view kind, std::string_view type, std::string_view message) {
  std::string m(message);
  if (kind == "no_actor") return std::make_exception_ptr(NoSuchActor(m));
  if (kind == "full") return std::make_exception_ptr(MailboxFull(m));
  if (kind == "codec") return std::make_exception_ptr(CodecError(m));
  if (kind == "exception") return std::make_exception_ptr(RemoteException(std::string(type), m));
  return std::make_exception_ptr(RemoteError(std::string(kind) + ": " + m));
}

}  // namespace troupe::detail::remote
