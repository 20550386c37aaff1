// A C engine's wm_collective as a wm::Collective.
#pragma once

#include <memory>

#include "capi/capi.h"
#include "weightmap/collective.hpp"
#include "weightmap/weightmap.h"

namespace wm::capi {

// Checks the callbacks; `c` (and its user_data) must outlive the load.
Result<std::shared_ptr<Collective>> make_c_collective(const wm_collective* c, uint32_t rank, uint32_t world);

}  // namespace wm::capi
