// PEFT's adapter_config.json, which save_pretrained writes beside
// adapter_model.safetensors. The adapter file itself holds only lora_A and
// lora_B; how strongly they apply is in the config: scale = lora_alpha / r
// (lora_alpha / sqrt(r) with use_rslora), with per-module r and alpha from
// rank_pattern and alpha_pattern. Ignoring it applies a r 4, lora_alpha 8
// adapter at half strength.
//
// Fields that change the update in ways a plain W += scale * B A cannot
// express (use_dora, fan_in_fan_out, lora_bias, a peft_type other than LORA) are
// refused, as are duplicate keys (Python's json keeps the last, simdjson
// the first: two readers would apply different adapters).
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/log.h"

namespace wm {

inline constexpr uint64_t kPeftConfigMaxBytes = 16 << 20;
inline constexpr std::string_view kPeftAdapterStem = "adapter_model";
inline constexpr std::string_view kPeftConfigName = "adapter_config.json";

struct PeftPattern {
  std::string key;  // as written in the config
  std::regex re;    // PEFT's match: "(.*\.)?(key)$" against the module name
  double value = 0;
};

struct PeftConfig {
  std::string path;  // the adapter_config.json
  uint32_t r = 8;    // PEFT's defaults, for fields the file leaves out
  double lora_alpha = 8;
  bool use_rslora = false;
  // In file order: the first pattern that matches a module wins, as in PEFT.
  std::vector<PeftPattern> rank_pattern, alpha_pattern;

  struct Module {
    uint32_t r;
    double alpha;
    std::string why;  // "r 4, lora_alpha 8", naming the patterns that matched
  };
  // `module` is the module's name in the base model ("model.layers.0.q_proj").
  Module for_module(std::string_view module) const;
  // alpha / r, or alpha / sqrt(r) with use_rslora.
  double scale(const Module& m) const;
};

// The module name PEFT matches patterns against: the adapter's tensor stem
// without the "base_model.model." that get_peft_model_state_dict prepends.
std::string peft_module_name(std::string_view stem);

// `path` is used in errors.
Result<PeftConfig> parse_peft_config(std::string_view json, const std::string& path);

// The config that applies to the LoRA file at `adapter`: adapter_config.json
// in the same folder when the file is PEFT's adapter_model.*. Warns when such
// a file has no config (its alpha is unknown), and when a config sits beside
// a file of another name that has no alpha of its own (`own_alpha`: .alpha
// tensors or GGUF metadata): likely a renamed PEFT adapter, and the config is
// not used, as PEFT pairs it with adapter_model.* only.
Result<std::optional<PeftConfig>> peft_config_for(const std::string& adapter, bool own_alpha, const Logger& log);

}  // namespace wm
