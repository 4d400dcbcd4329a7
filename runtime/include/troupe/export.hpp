// troupe/export.hpp - TROUPE_API: what troupe's shared libraries export.
//
// The libraries are built with hidden visibility (-fvisibility=hidden
// -fvisibility-inlines-hidden), so only what carries TROUPE_API is in their dynamic symbol
// tables: the public classes and functions, and the few runtime functions that the
// templates in the public headers call. The Scheduler, the Registry and the rest of the
// engine stay private to libtroupe.so. ELF needs no import/export distinction, so the one
// macro serves the core, troupe-actors and troupe-http alike, building or using them.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define TROUPE_API [[gnu::visibility("default")]]
#else
#define TROUPE_API
#endif
