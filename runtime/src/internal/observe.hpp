// internal/observe.hpp - TROUPE_OBSERVE: attaching troupe-observer without linking it.
// Never installed.
//
// When the environment variable TROUPE_OBSERVE is set (`127.0.0.1:9100`, `:0`), a System
// loads libtroupe-observer.so.0 with dlopen and calls its `troupe_observer_attach`; the
// handle it returns is destroyed before the System shuts down. The core never links the
// observer, and with the variable unset nothing here runs but one getenv per System.
#pragma once

namespace troupe {
class System;
}

namespace troupe::detail {

/// Attaches an observer to `system` if TROUPE_OBSERVE is set. Never throws: a library that
/// cannot be found or a port that cannot be bound is said in one line on stderr, and the
/// program runs on unobserved.
void observe_from_env(System& system) noexcept;
/// Detaches the observer attached to `system`, if any (stops its HTTP thread).
void unobserve(const System& system) noexcept;

}  // namespace troupe::detail
