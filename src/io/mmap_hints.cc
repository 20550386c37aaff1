#include "io/mmap_hints.h"

#include <array>
#include <cctype>
#include <cstdlib>
#include <fmt/format.h>
#include <utility>

namespace wm {
namespace {

constexpr std::array<std::pair<std::string_view, MmapHint>, 7> kTokens{{
    {"none", MmapHint::kNone},
    {"sequential", MmapHint::kSequential},
    {"random", MmapHint::kRandom},
    {"willneed", MmapHint::kWillneed},
    {"populate", MmapHint::kPopulate},
    {"dontneed", MmapHint::kDontneed},
    {"auto", MmapHint::kAuto},
}};

std::string normalise(std::string_view token) {
  std::string out;
  for (char c : token)
    if (!std::isspace(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string MmapHints::to_string() const {
  std::string out;
  for (const auto& [name, hint] : kTokens) {
    if (hint == MmapHint::kNone || !has(hint)) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out.empty() ? "none" : out;
}

Result<MmapHints> parse_mmap_hints(std::string_view text, std::string_view where) {
  MmapHints hints;
  bool saw_none = false, saw_other = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string token = normalise(text.substr(start, end - start));
    start = end + 1;
    if (token.empty()) continue;
    bool known = false;
    for (const auto& [name, hint] : kTokens) {
      if (token != name) continue;
      known = true;
      if (hint == MmapHint::kNone) saw_none = true;
      else {
        saw_other = true;
        hints = hints.with(hint);
      }
    }
    if (!known)
      return Error{{}, {}, {},
                   fmt::format("{}: unknown hint '{}' (known: none, sequential, random, willneed, populate, dontneed, "
                               "auto)",
                               where, token)};
  }
  if (saw_none && saw_other) return Error{{}, {}, {}, fmt::format("{}: 'none' cannot be combined with other hints", where)};
  if (hints.has(MmapHint::kSequential) && hints.has(MmapHint::kRandom))
    return Error{{}, {}, {}, fmt::format("{}: 'sequential' and 'random' contradict each other", where)};
  if (hints.has(MmapHint::kAuto) && !hints.without(MmapHint::kAuto).without(MmapHint::kDontneed).empty())
    return Error{{}, {}, {},
                 fmt::format("{}: 'auto' chooses the read hints itself; only 'dontneed' may go with it", where)};
  if (!saw_none && !saw_other) return Error{{}, {}, {}, fmt::format("{}: no hint given (use 'none' for no hints)", where)};
  return hints;
}

Result<MmapHints> resolve_mmap_hints(const std::string* flag_value) {
  if (flag_value) return parse_mmap_hints(*flag_value, "--hints");
  if (const char* env = std::getenv("WEIGHTMAP_MMAP_HINTS"); env && *env)
    return parse_mmap_hints(env, "WEIGHTMAP_MMAP_HINTS");
  return MmapHints::automatic();
}

}  // namespace wm
