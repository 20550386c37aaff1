// The split rules of Options::shard ("*.attn_q.weight=rows,*norm*=replicate"),
// parsed once, presets expanded: which part of each tensor a rank takes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "plan/name_rules.h"
#include "weightmap/tensor.hpp"

namespace wm {

// How one rule cuts the tensors it matches.
struct SplitHow {
  SliceDim dim = SliceDim::kNone;  // kNone: replicate
  bool pad = false;                // uneven splits zero-filled to ceil(n/world)
  // rows[A:B] / cols[A:B]: this range on every rank, instead of 1/world.
  std::optional<std::pair<uint64_t, uint64_t>> range;
};

// "rows", "cols:pad", "rows[0:128]", "replicate"; an error names the value.
Result<SplitHow> parse_split_how(std::string_view value);

// The rules with presets ("llama", "diffusion") replaced by what they
// stand for; every value checked by parse_split_how.
Result<NameRules> parse_split_rules(std::string_view text);

// What a preset stands for, or nullopt when `name` is not one.
std::optional<std::string_view> split_preset(std::string_view name);

}  // namespace wm
