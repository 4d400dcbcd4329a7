// observe.cpp - TROUPE_OBSERVE: finding libtroupe-observer.so.0 at run time and attaching it.
//
// The library is looked for, in order: at TROUPE_OBSERVER_LIB if that is set; by its
// soname (the loader's path: rpath, LD_LIBRARY_PATH, the system's folders); next to
// libtroupe.so itself (an install); and in ../observer/ from it (the build tree). The
// handles live in a small table keyed by System, so System itself carries no field for
// a feature most programs never turn on.
#include "internal/observe.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace troupe::detail {

namespace {

// The observer library's entry points (observer/src/attach.cpp).
using AttachFn = void* (*)(System* system, const char* spec, char* error, unsigned long size);
using DetachFn = void (*)(void* handle);

struct Attached {
  const System* system;
  void* handle;
  DetachFn detach;
};

std::mutex table_mutex;
std::vector<Attached> table;            // guarded by table_mutex
std::atomic<int> attached_count{0};     // lets ~System skip the lock when nothing is attached

/// The folder libtroupe.so was loaded from, with a trailing '/', or "" if unknown.
std::string own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&observe_from_env), &info) == 0 || info.dli_fname == nullptr) {
    return "";
  }
  std::string path = info.dli_fname;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

void* open_library(std::string& tried) {
  constexpr const char* kSoname = "libtroupe-observer.so.0";
  std::vector<std::string> candidates;
  if (const char* explicit_path = std::getenv("TROUPE_OBSERVER_LIB");
      explicit_path != nullptr && *explicit_path != '\0') {
    candidates.emplace_back(explicit_path);
  } else {
    candidates.emplace_back(kSoname);
    std::string folder = own_folder();
    if (!folder.empty()) {
      candidates.push_back(folder + kSoname);
      candidates.push_back(folder + "../observer/" + kSoname);
    }
  }
  for (const auto& path : candidates) {
    if (void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return lib;
    if (!tried.empty()) tried += ", ";
    tried += path;
  }
  return nullptr;
}

}  // namespace

void observe_from_env(System& system) noexcept {
  const char* spec = std::getenv("TROUPE_OBSERVE");
  if (spec == nullptr || *spec == '\0') return;
  try {
    std::string tried;
    void* lib = open_library(tried);
    if (lib == nullptr) {
      std::fprintf(stderr,
                   "troupe: TROUPE_OBSERVE is set but libtroupe-observer.so.0 was not found "
                   "(tried %s; set TROUPE_OBSERVER_LIB to its path); running unobserved\n",
                   tried.c_str());
      return;
    }
    // The library stays loaded for the life of the process (no dlclose): its code may
    // still be on a stack when the last System goes, and loading it twice is free.
    auto attach = reinterpret_cast<AttachFn>(dlsym(lib, "troupe_observer_attach"));
    auto detach = reinterpret_cast<DetachFn>(dlsym(lib, "troupe_observer_detach"));
    if (attach == nullptr || detach == nullptr) {
      std::fprintf(stderr, "troupe: libtroupe-observer.so.0 has no troupe_observer_attach; "
                           "running unobserved\n");
      return;
    }
    char error[256] = {};
    void* handle = attach(&system, spec, error, sizeof error);
    if (handle == nullptr) {
      std::fprintf(stderr, "troupe: TROUPE_OBSERVE=%s: %s; running unobserved\n", spec, error);
      return;
    }
    std::lock_guard lock(table_mutex);
    table.push_back(Attached{&system, handle, detach});
    attached_count.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    std::fputs("troupe: TROUPE_OBSERVE: out of memory attaching the observer; running "
               "unobserved\n", stderr);
  }
}

void unobserve(const System& system) noexcept {
  if (attached_count.load(std::memory_order_relaxed) == 0) return;
  Attached found{nullptr, nullptr, nullptr};
  {
    std::lock_guard lock(table_mutex);
    for (auto it = table.begin(); it != table.end(); ++it) {
      if (it->system == &system) {
        found = *it;
        table.erase(it);
        attached_count.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
  }
  if (found.handle != nullptr) found.detach(found.handle);
}

}  // namespace troupe::detail
