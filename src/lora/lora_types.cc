#include "lora/lora_types.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>

namespace wm {

const char* lora_mode_name(LoraApplyMode m) {
  switch (m) {
    case LoraApplyMode::kAuto: return "auto";
    case LoraApplyMode::kImmediately: return "immediately";
    case LoraApplyMode::kAtRuntime: return "at_runtime";
  }
  return "?";
}

std::optional<LoraApplyMode> lora_mode_from_name(std::string_view name) {
  if (name == "auto") return LoraApplyMode::kAuto;
  if (name == "immediately") return LoraApplyMode::kImmediately;
  if (name == "at_runtime") return LoraApplyMode::kAtRuntime;
  return std::nullopt;
}

const char* lora_action_name(LoraAction a) { return a == LoraAction::kPatched ? "patched" : "at_runtime"; }

namespace {
std::optional<float> parse_float(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  float v = std::strtof(copy.c_str(), &end);
  if (errno != 0 || end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}
}  // namespace

Result<LoraSpec> parse_lora_spec(std::string_view text) {
  LoraSpec spec;
  size_t colon = text.rfind(':');
  std::optional<float> strength;
  if (colon != std::string_view::npos) strength = parse_float(text.substr(colon + 1));
  spec.path = std::string(strength ? text.substr(0, colon) : text);
  if (strength) spec.strength = *strength;
  if (spec.path.empty()) return Error{{}, {}, {}, fmt::format("--lora '{}': expected FILE[:STRENGTH]", text)};
  // "FILE:abc": a strength that is not a number, when FILE exists and
  // "FILE:abc" does not, is a typo in the strength, not a missing file.
  if (!strength && colon != std::string_view::npos && colon + 1 < text.size()) {
    std::error_code ec;
    const std::string before(text.substr(0, colon));
    if (!std::filesystem::exists(spec.path, ec) && std::filesystem::exists(before, ec))
      return Error{before, {}, {},
                   fmt::format("--lora '{}': strength '{}' is not a number (FILE[:STRENGTH], e.g. {}:0.8)", text,
                               text.substr(colon + 1), before),
                   ErrorCode::kInvalidArgument};
  }
  return spec;
}

Result<LoraPrefixRule> parse_lora_prefix_rule(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return Error{{}, {}, {}, fmt::format("--lora-prefix '{}': expected FROM=TO (TO may be empty)", text)};
  return LoraPrefixRule{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace wm
