// How `inspect` shows a TensorTable: aligned text for people, JSON for tools.
#pragma once

#include <string>

#include "format/tensor_table.h"

namespace wm::cli {

struct InspectOptions {
  bool metadata = false;  // include file metadata
};

std::string inspect_text(const TensorTable& table, const InspectOptions& options);
std::string inspect_json(const TensorTable& table, const InspectOptions& options);

}  // namespace wm::cli
