// libFuzzer target: the LoRA name matcher on arbitrary names. Input is text:
// base tensor names one per line, a "--" line, LoRA tensor names, and
// optionally another "--" line followed by FROM=TO prefix rules.
// Invariants: every LoRA name ends up in exactly one pair slot or in the
// unmatched list; pairs name real base tensors and factors of the right role.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lora/name_match.h"

namespace {

std::vector<std::vector<std::string>> sections(std::string_view text) {
  std::vector<std::vector<std::string>> out(1);
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line == "--" && out.size() < 3) out.emplace_back();
    else out.back().emplace_back(line);
  }
  out.resize(3);
  return out;
}

void check_role(const std::string& name, const std::string& stem, wm::LoraRole role) {
  auto parts = wm::split_lora_name(name);
  if (!parts || parts->stem != stem || parts->role != role) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = sections({reinterpret_cast<const char*>(data), size});
  std::vector<wm::LoraPrefixRule> rules;
  for (const auto& r : s[2])
    if (auto rule = wm::parse_lora_prefix_rule(r)) rules.push_back(rule.value());
  wm::BaseNameIndex base(s[0]);
  wm::LoraNameMatch m = wm::match_lora_names(s[1], base, rules);
  size_t accounted = m.unmatched.size();
  for (const auto& p : m.pairs) {
    if (p.base >= s[0].size()) std::abort();
    check_role(p.down, p.stem, wm::LoraRole::kDown);
    check_role(p.up, p.stem, wm::LoraRole::kUp);
    if (p.alpha) check_role(*p.alpha, p.stem, wm::LoraRole::kAlpha);
    accounted += 2 + (p.alpha ? 1 : 0);
  }
  if (accounted != s[1].size()) std::abort();
  // Deterministic: the same input matches the same way.
  wm::LoraNameMatch again = wm::match_lora_names(s[1], base, rules);
  if (again.pairs.size() != m.pairs.size() || again.unmatched.size() != m.unmatched.size()) std::abort();
  return 0;
}
