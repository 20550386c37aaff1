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

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown: return "unknown";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kBadFormat: return "bad_format";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kChangedOnDisk: return "changed_on_disk";
    case ErrorCode::kOutOfMemory: return "out_of_memory";
    case ErrorCode::kLimitReached: return "limit_reached";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kDevice: return "device";
  }
  return "unknown";
}

BadResultAccess::BadResultAccess(Error e)
    : std::logic_error("wm: value() called on a result that holds an error: " + e.to_string()), error_(std::move(e)) {}

}  // namespace wm
