// actor.cpp - the members of troupe::Actor, the base class of every actor, and how a
// constructor finds the cell it belongs to (ConstructionScope).
#include <stdexcept>
#include <utility>

#include "internal/core.hpp"
#include "internal/current.hpp"
#include "internal/runtime_messages.hpp"
#include "troupe/actor.hpp"
#include "troupe/system.hpp"

namespace troupe::detail {

ConstructionScope::ConstructionScope(Cell* cell) noexcept : saved_(tls_constructing) {
  tls_constructing = cell;
}
ConstructionScope::~ConstructionScope() { tls_constructing = saved_; }
Cell* ConstructionScope::take() noexcept { return std::exchange(tls_constructing, nullptr); }

}  // namespace troupe::detail

namespace troupe {

Actor::Actor() : cell_(detail::ConstructionScope::take()) {
  if (cell_ == nullptr) {
    throw std::logic_error("troupe::Actor objects are made by System::spawn, not directly");
  }
}

Actor::~Actor() = default;

System& Actor::system() const noexcept { return cell_->core().system(); }

std::string_view Actor::name() const noexcept { return cell_->name(); }

void Actor::stop() noexcept { cell_->request_stop(nullptr); }

void Actor::watch_cell(detail::Cell* other) {
  if (other == nullptr) throw std::invalid_argument("watch: the Ref is empty");
  Ref<Actor> me = self();
  other->enqueue(new detail::WatchEnvelope(std::move(me)), detail::Priority::system);
}

}  // namespace troupe
