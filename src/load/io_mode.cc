// The names of the copy path's read modes (weightmap/options.hpp), for
// options, reports and the CLI.
#include "weightmap/options.hpp"

namespace wm {

const char* io_mode_name(IoMode m) {
  switch (m) {
    case IoMode::kRead: return "read";
    case IoMode::kDirect: return "direct";
    case IoMode::kUring: return "uring";
  }
  return "?";
}

std::optional<IoMode> io_mode_from_name(std::string_view text) {
  if (text == "read" || text == "pread") return IoMode::kRead;
  if (text == "direct") return IoMode::kDirect;
  if (text == "uring" || text == "io_uring") return IoMode::kUring;
  return std::nullopt;
}

}  // namespace wm
