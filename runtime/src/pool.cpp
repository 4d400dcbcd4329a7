// pool.cpp - per-thread free lists over huge-page regions (see detail/pool.hpp).
#include "troupe/detail/pool.hpp"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <tuple>
#include <vector>

#include "internal/check.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define TROUPE_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TROUPE_POOL_BYPASS 1
#endif
#endif

namespace troupe::detail {

#if defined(TROUPE_POOL_BYPASS)

void* pool_allocate(std::size_t bytes) { return ::operator new(bytes); }
void pool_free(void* block, std::size_t bytes) noexcept { ::operator delete(block, bytes); }

#else

namespace {

// Class c holds blocks of c * 8 bytes, up to 512. A size that is an odd multiple of 8
// belongs to a type aligned to at most 8 (a size is a multiple of its alignment), so only
// even classes need 16-byte alignment: a 120-byte cell takes 120 bytes, not 128.
constexpr std::size_t kGrain = 8;
constexpr std::size_t kClasses = 65;
constexpr std::size_t kBatch = 256;         // blocks moved between threads at a time
constexpr std::size_t kRun = 64 * 1024;     // what a thread carves new blocks from
constexpr std::size_t kRegion = 2 * 1024 * 1024;

struct Free {
  Free* next;
};

/// A chain of freed blocks of one class, as moved between a thread and the depot.
struct Batch {
  Free* head = nullptr;
  std::size_t count = 0;
};

/// Shared by all threads: full batches per class, fresh memory, leftover runs.
/// Never destroyed: blocks may be freed by threads that outlive static destruction.
class Depot {
 public:
  bool take(std::size_t c, Batch& out) {
    // Most refills find nothing (while a consumer lags, every block is still in use):
    // look without the lock first.
    if (available_[c].load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard lock(mutex_);
    if (batches_[c].empty()) return false;
    out = batches_[c].back();
    batches_[c].pop_back();
    available_[c].store(batches_[c].size(), std::memory_order_relaxed);
    return true;
  }
  void give(std::size_t c, Batch batch) {
    std::lock_guard lock(mutex_);
    batches_[c].push_back(batch);
    available_[c].store(batches_[c].size(), std::memory_order_relaxed);
  }
  /// A run of kRun fresh bytes, or what a finished thread left of one if that holds at
  /// least `need` bytes.
  std::pair<char*, char*> run(std::size_t need) {
    std::lock_guard lock(mutex_);
    if (!runs_.empty() && runs_.back().second - runs_.back().first >=
                              static_cast<std::ptrdiff_t>(need)) {
      auto r = runs_.back();
      runs_.pop_back();
      return r;
    }
    if (region_left_ < kRun) {
      region_ = map_region();
      region_left_ = kRegion;
    }
    char* start = region_ + (kRegion - region_left_);
    region_left_ -= kRun;
    return {start, start + kRun};
  }
  void give_run(char* begin, char* end) {
    if (end - begin < static_cast<std::ptrdiff_t>(kRun / 4)) return;  // not worth keeping
    std::lock_guard lock(mutex_);
    runs_.emplace_back(begin, end);
  }

 private:
  static char* map_region() {
    // Map twice the size and trim, so the region is 2 MiB aligned: one huge page.
    void* raw = ::mmap(nullptr, 2 * kRegion, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto addr = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (addr + kRegion - 1) & ~(kRegion - 1);
    if (aligned > addr) ::munmap(raw, aligned - addr);
    auto tail = addr + 2 * kRegion - (aligned + kRegion);
    if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + kRegion), tail);
#ifdef MADV_HUGEPAGE
    ::madvise(reinterpret_cast<void*>(aligned), kRegion, MADV_HUGEPAGE);
#endif
    return reinterpret_cast<char*>(aligned);
  }

  std::mutex mutex_;
  std::array<std::vector<Batch>, kClasses> batches_;
  std::array<std::atomic<std::size_t>, kClasses> available_{};  // batches_[c].size(), readable unlocked
  std::vector<std::pair<char*, char*>> runs_;
  char* region_ = nullptr;
  std::size_t region_left_ = 0;
};

Depot& depot() {
  static Depot* d = new Depot;  // leaked on purpose (see Depot)
  return *d;
}

char* align16(char* p) noexcept {
  return reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(p) + 15) & ~std::uintptr_t{15});
}

/// One thread's free lists, and the run it carves new blocks from. Trivial to construct
/// and destroy, so that reaching it is one %fs-relative access (a thread_local with a
/// destructor would go through a guard and __tls_get_addr on every use); the thread's
/// exit is handled by a separate Farewell object, touched only on the slow path.
struct Cache {
  std::array<Batch, kClasses> lists;
  char* run;
  char* run_end;
  bool greeted;  // a Farewell has been set up for this thread
  bool gone;     // the thread is exiting: its lists went to the depot

  void* allocate(std::size_t c);
  void free(void* p, std::size_t c) noexcept;
  // The slow paths, kept out of line so the fast ones stay a few instructions.
  [[gnu::noinline]] void* refill(std::size_t c);
  [[gnu::noinline]] void overflow(std::size_t c) noexcept;
  [[gnu::noinline]] void greet() noexcept;
  void farewell() noexcept;
};

[[gnu::tls_model("initial-exec")]] thread_local Cache cache{};

/// Hands a thread's free lists to the depot when the thread exits.
struct Farewell {
  ~Farewell() { cache.farewell(); }
};

void Cache::farewell() noexcept {
  gone = true;
  try {
    for (std::size_t c = 1; c < kClasses; ++c) {
      if (lists[c].count > 0) depot().give(c, lists[c]);
      lists[c] = Batch{};
    }
    depot().give_run(run, run_end);
  } catch (...) {  // out of memory at thread exit: those blocks are lost, not corrupted
    report_loss("an exiting thread's free memory blocks");
  }
}

void Cache::greet() noexcept {
  greeted = true;
  static thread_local Farewell farewell;  // constructed now; destroyed at this thread's exit
  (void)farewell;
}

void* Cache::allocate(std::size_t c) {
  Batch& list = lists[c];
  Free* block = list.head;
  if (block == nullptr) return refill(c);
  list.head = block->next;
  --list.count;
  return block;
}

void* Cache::refill(std::size_t c) {
  if (!greeted) greet();
  Batch& list = lists[c];
  if (depot().take(c, list)) return allocate(c);
  std::size_t size = c * kGrain;
  if (size % 16 == 0) run = align16(run);
  if (run_end - run < static_cast<std::ptrdiff_t>(size)) {
    // The tail left (under 512 bytes of 64 KiB) is dropped rather than kept. A run left
    // by a finished thread may start at 8 mod 16: ask for room to align.
    std::tie(run, run_end) = depot().run(size + 8);
    if (size % 16 == 0) run = align16(run);
  }
  char* block = run;
  run += size;
  return block;
}

void Cache::free(void* p, std::size_t c) noexcept {
  Batch& list = lists[c];
  auto* block = static_cast<Free*>(p);
  block->next = list.head;
  list.head = block;
  if (++list.count >= 2 * kBatch || !greeted) overflow(c);
}

void Cache::overflow(std::size_t c) noexcept {
  if (!greeted) greet();  // a thread that only frees must hand its lists back too
  Batch& list = lists[c];
  if (list.count < 2 * kBatch) return;
  // Too many here (this thread frees what others make): hand a batch to the depot.
  Batch surplus{list.head, kBatch};
  Free* last = list.head;
  for (std::size_t i = 1; i < kBatch; ++i) last = last->next;
  list.head = last->next;
  last->next = nullptr;
  list.count -= kBatch;
  try {
    depot().give(c, surplus);
  } catch (...) {  // out of memory for the depot's list: keep them here instead
    last->next = list.head;
    list.head = surplus.head;
    list.count += kBatch;
  }
}

std::size_t size_class(std::size_t bytes) noexcept { return (bytes + kGrain - 1) / kGrain; }

[[gnu::noinline]] void* allocate_elsewhere(std::size_t bytes) {
  std::size_t c = size_class(bytes);
  if (c >= kClasses || c == 0) return ::operator new(bytes);
  return ::operator new(c * kGrain);  // the thread is exiting; may end up in a free list
}

[[gnu::noinline]] void free_elsewhere(void* block, std::size_t bytes) noexcept {
  std::size_t c = size_class(bytes);
  if (c >= kClasses || c == 0) {
    ::operator delete(block, bytes);
    return;
  }
  try {  // the thread is exiting: straight to the depot
    depot().give(c, Batch{new (block) Free{nullptr}, 1});
  } catch (...) {
    report_loss("a freed memory block");
  }
}

}  // namespace

void* pool_allocate(std::size_t bytes) {
  std::size_t c = size_class(bytes);
  if (c >= kClasses || c == 0 || cache.gone) return allocate_elsewhere(bytes);
  return cache.allocate(c);
}

void pool_free(void* block, std::size_t bytes) noexcept {
  std::size_t c = size_class(bytes);
  if (c >= kClasses || c == 0 || cache.gone) return free_elsewhere(block, bytes);
  cache.free(block, c);
}

#endif

}  // namespace troupe::detail
