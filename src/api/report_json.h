// The load report as one JSON object: counts, bytes, times, memory, page
// cache, and with `per_tensor` one entry per tensor. Always valid JSON.
#pragma once

#include <string>

#include "load/loaded_model.h"

namespace wm {

std::string load_report_json(const LoadedModel& model, bool per_tensor);

}  // namespace wm
