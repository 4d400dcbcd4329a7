// page.hpp - the observer's live page: one self-contained HTML document. Not installed.
#pragma once

#include <string_view>

namespace troupe::observe {

/// The page served at `/`: inline CSS and JavaScript, nothing fetched but the JSON endpoints.
std::string_view page() noexcept;

}  // namespace troupe::observe
