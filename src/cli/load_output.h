// How `load` shows a loaded model and its report: text for people, JSON for tools.
#pragma once

#include <string>

#include "weightmap/weightmap.hpp"

namespace wm::cli {

std::string load_text(const Model& model, bool per_tensor);
std::string load_json(const Model& model, bool per_tensor);

}  // namespace wm::cli
