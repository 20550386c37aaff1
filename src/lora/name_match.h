// Which base tensor each LoRA tensor changes. Pure (names in, pairs out), so
// every convention is testable without files:
//   PEFT       <base>.lora_A.weight / <base>.lora_B.weight
//   kohya-ss   lora_unet_<path_with_underscores>.lora_down.weight / .lora_up.weight / .alpha
//              (lora_te_, lora_te1_, lora_te2_ likewise)
//   diffusers  <base>.lora.down.weight / <base>.lora.up.weight
//   llama.cpp  <base>.weight.lora_a / .lora_b (GGUF adapters)
// A LoRA stem is rewritten by prefix rules, then looked up exactly (with or
// without ".weight") and, failing that, with dots read as underscores (kohya
// flattens "a.b_c.d" to "a_b_c_d"). Every LoRA tensor that changes nothing
// is listed with its reason.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lora/lora_types.h"

namespace wm {

// Built-in rules, tried after the caller's: single-file (ldm / sd.cpp) names,
// diffusers folder components, and bare names.
const std::vector<LoraPrefixRule>& default_lora_prefix_rules();

// The base model's qualified tensor names, indexed for lookup.
class BaseNameIndex {
 public:
  explicit BaseNameIndex(std::span<const std::string> names);
  // Indices of base tensors named exactly `name`, or `name` + ".weight".
  std::vector<size_t> exact(std::string_view name) const;
  // Indices of base tensors equal to `name` with dots read as underscores
  // (".weight" ignored on both sides).
  std::vector<size_t> underscored(std::string_view name) const;
  const std::string& name(size_t i) const { return names_[i]; }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> by_name_;
  std::unordered_map<std::string, std::vector<size_t>> by_underscored_;
};

enum class LoraRole : uint8_t { kDown, kUp, kAlpha };

// A LoRA tensor name split into its stem and role, or nullopt when it has no
// known LoRA suffix.
struct LoraNameParts {
  std::string stem;
  LoraRole role;
};
std::optional<LoraNameParts> split_lora_name(std::string_view name);

// One matched LoRA update: the names of its factors in the LoRA file and the
// base tensor they change.
struct LoraPair {
  std::string stem;
  std::string down, up;
  std::optional<std::string> alpha;
  size_t base = 0;  // index into the BaseNameIndex's names
};

struct LoraNameMatch {
  std::vector<LoraPair> pairs;
  std::vector<UnmatchedLora> unmatched;  // `file` left empty: the caller knows it
};

// `user_rules` are tried first, then the identity and default rules; the
// first tier that finds a base tensor decides; two different base tensors
// in one tier make the stem ambiguous (listed as unmatched).
LoraNameMatch match_lora_names(std::span<const std::string> lora_names, const BaseNameIndex& base,
                               std::span<const LoraPrefixRule> user_rules);

}  // namespace wm
