#include "common/size_text.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <string>

namespace wm {

Result<uint64_t> parse_size(std::string_view text) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || value < 0 || !std::isfinite(value))
    return Error{{}, {}, {}, fmt::format("'{}' is not a size (examples: 12G, 512M, 1048576)", text)};
  std::string suffix(end, static_cast<const char*>(s.data() + s.size()));
  if (!suffix.empty() && suffix.back() == 'B') suffix.pop_back();
  if (suffix.size() == 2 && suffix[1] == 'I') suffix.pop_back();
  double scale = 1;
  if (suffix.empty()) scale = 1;
  else if (suffix == "K") scale = 1024.0;
  else if (suffix == "M") scale = 1024.0 * 1024;
  else if (suffix == "G") scale = 1024.0 * 1024 * 1024;
  else if (suffix == "T") scale = 1024.0 * 1024 * 1024 * 1024;
  else return Error{{}, {}, {}, fmt::format("'{}': unknown unit (use K, M, G or T)", text)};
  double bytes = value * scale;
  if (bytes >= 1.8e19) return Error{{}, {}, {}, fmt::format("'{}' is too large", text)};
  return static_cast<uint64_t>(bytes);
}

std::string human_bytes(uint64_t n) {
  if (n >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(n) / (1ull << 30));
  if (n >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1ull << 20));
  if (n >= (1ull << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(n) / (1ull << 10));
  return fmt::format("{} B", n);
}

}  // namespace wm
