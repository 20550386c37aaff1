// wm_options (C) to wm::Options (C++).
#pragma once

#include "weightmap/options.hpp"
#include "weightmap/weightmap.h"

namespace wm::capi {

// Reads the caller's options (only what its struct_size covers; NULL: the
// defaults), checks them, and builds wm::Options (devices wrapped, strings
// and callbacks copied). Sets the last error and returns its status on failure.
wm_status to_options(const wm_options* caller, Options& out);

// wm_lora_options to wm::LoraOptions, the same way (NULL: the defaults).
wm_status to_lora_options(const wm_lora_options* caller, LoraOptions& out);

}  // namespace wm::capi
