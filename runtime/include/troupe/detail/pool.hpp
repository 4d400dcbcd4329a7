// troupe/detail/pool.hpp - the memory behind cells and envelopes. Not public API.
//
// Actors and messages come and go by the million, and often end on another thread than
// the one that made them (a child spawned on one worker is freed on another; a message is
// made by its sender and freed by its receiver). With malloc, every such free takes a lock
// on the other thread's arena, and under load that lock becomes a futex storm. The pool
// keeps freed blocks per thread in 8-byte size classes, hands surplus between threads in
// batches of 256 (one lock per batch), and carves new blocks from 2 MiB regions that ask
// for transparent huge pages. Memory it has handed out stays with the process for reuse.
// Builds with AddressSanitizer bypass it, so that use-after-free is still caught.
#pragma once

#include <cstddef>
#include <new>

#include "troupe/export.hpp"

namespace troupe::detail {

/// A block of at least `bytes`, aligned for any type of that size (16 bytes when `bytes`
/// is a multiple of 16, else 8). Thread-safe. Throws std::bad_alloc.
TROUPE_API void* pool_allocate(std::size_t bytes);
/// Returns a block from pool_allocate(bytes) with the same `bytes`. Thread-safe, any thread.
TROUPE_API void pool_free(void* block, std::size_t bytes) noexcept;

/// Base class that routes `new`/`delete` of the derived class through the pool (the
/// sized delete of a virtual destructor passes the most derived type's size).
struct Pooled {
  static void* operator new(std::size_t bytes) { return pool_allocate(bytes); }
  static void operator delete(void* block, std::size_t bytes) noexcept { pool_free(block, bytes); }
  // Over-aligned types bypass the pool.
  static void* operator new(std::size_t bytes, std::align_val_t align) {
    return ::operator new(bytes, align);
  }
  static void operator delete(void* block, std::size_t bytes, std::align_val_t align) noexcept {
    // The unsized form: clang declares the sized aligned one only with -fsized-deallocation.
    (void)bytes;
    ::operator delete(block, align);
  }
};

}  // namespace troupe::detail
