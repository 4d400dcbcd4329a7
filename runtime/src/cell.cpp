// cell.cpp - what a cell is: its identity, name, state and counts. The rest of an actor's
// life is in files of its own: send.cpp (a message in, the actor woken), bounded_mailbox.cpp,
// turn.cpp (handling messages), supervision.cpp (failure and restart), suspension.cpp
// (coroutines waiting), termination.cpp (the end and Down), actor.cpp (Actor's members).
#include <string>

#include "internal/check.hpp"
#include "internal/core.hpp"
#include "internal/demangle.hpp"
#include "troupe/errors.hpp"

namespace troupe::detail {

void Envelope::reject(Cell&) noexcept {}

// The cache-line layout in cell.hpp (senders' words in bytes 8-23, the turn's from 84 on)
// is worked out for this size; a new field means working it out again.
static_assert(sizeof(void*) != 8 || sizeof(Cell) == 104, "Cell's layout changed: see cell.hpp");

Cell::Cell(Core& core) noexcept
    : flags_(core.file_tracer() != nullptr ? kTraced : 0), core_(&core) {}

Cell::~Cell() {
  if (Node* last = mail_.release_placeholder()) delete static_cast<Envelope*>(last);
  delete cold_.load(std::memory_order_acquire);
  if (id_ != 0) core_->cell_freed(this);  // registered cells keep the core alive
}

Cold& Cell::cold() {
  Cold* c = cold_.load(std::memory_order_acquire);
  if (c == nullptr) {  // only the actor's own turn (or spawn, before publication) gets here
    c = new Cold;
    cold_.store(c, std::memory_order_release);
  }
  return *c;
}

void Cell::count_own_failure() noexcept {
  try {  // rare, so kept with the cold state rather than in the cell's hot lines
    cold().failures.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    // Out of memory for the cold state: the system's own count (Core) still has it.
  }
}

std::uint32_t Cell::failures() const noexcept {
  Cold* c = cold_.load(std::memory_order_acquire);
  return c != nullptr ? c->failures.load(std::memory_order_relaxed) : 0;
}

std::string_view Cell::name() const noexcept {
  Cold* c = cold_.load(std::memory_order_acquire);
  return c != nullptr ? std::string_view(c->name) : std::string_view();
}

std::string Cell::display_name() const {
  std::string_view n = name();
  if (!n.empty()) return std::string(n);
  return demangle(type()) + "#" + std::to_string(id_);
}

std::exception_ptr Cell::reason() const noexcept {
  if (!failed()) return nullptr;
  Cold* c = cold_.load(std::memory_order_acquire);
  std::exception_ptr why = c != nullptr ? c->reason : nullptr;
  return why ? why : lost_reason();  // failed, whether or not the reason could be kept
}

std::exception_ptr Cell::stopped_error() const {
  std::string why = failed() ? "failed: " + describe(reason()) : "is stopped";
  return std::make_exception_ptr(ActorStopped("actor '" + display_name() + "' " + why));
}

std::uint32_t Cell::mailbox_depth() const noexcept {
  auto depth = static_cast<std::int32_t>(sent_.load(std::memory_order_relaxed) -
                                         handled_.load(std::memory_order_relaxed));
  return depth > 0 ? static_cast<std::uint32_t>(depth) : 0;  // lost counts read low
}

}  // namespace troupe::detail
