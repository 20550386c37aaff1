// How `convert` shows what it wrote: a line per tensor and totals for
// people, one JSON object for tools (also on failure, so --json output is
// always valid JSON).
#pragma once

#include <string>

#include "convert/convert_model.h"

namespace wm::cli {

std::string convert_text(const ConvertReport& r);
std::string convert_json(const ConvertReport& r);
std::string convert_error_json(const Error& e);

}  // namespace wm::cli
