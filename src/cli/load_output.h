// How `load` shows a Model and its report: text for people, JSON for tools.
#pragma once

#include <string>

#include "load/model.h"

namespace wm::cli {

std::string load_text(const Model& model, bool per_tensor);
std::string load_json(const Model& model, bool per_tensor);

}  // namespace wm::cli
