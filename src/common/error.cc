#include "common/error.h"

#include <fmt/format.h>

namespace wm {

std::string Error::to_string() const {
  std::string out;
  if (!file.empty()) out += fmt::format("file '{}'", file);
  if (!tensor.empty()) out += fmt::format("{}tensor '{}'", out.empty() ? "" : ": ", tensor);
  if (offset) out += fmt::format("{}at byte {}", out.empty() ? "" : " ", *offset);
  if (!out.empty()) out += ": ";
  out += message;
  return out;
}

}  // namespace wm
