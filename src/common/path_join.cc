#include "common/path_join.h"

#include <algorithm>
#include <filesystem>

namespace wm {

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  constexpr char kNative = static_cast<char>(std::filesystem::path::preferred_separator);
  char sep = '/';
  if (kNative != '/' && dir.find('/') == std::string_view::npos && dir.find(kNative) != std::string_view::npos)
    sep = kNative;
  std::string out(dir);
  if (out.back() != '/' && out.back() != kNative) out += sep;
  std::string tail(name);
  if (kNative != '/') std::replace(tail.begin(), tail.end(), sep == '/' ? kNative : '/', sep);
  return out + tail;
}

}  // namespace wm
