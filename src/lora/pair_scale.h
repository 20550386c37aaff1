// How strongly one matched LoRA pair is applied: strength x alpha / r, or
// alpha / sqrt(r) for rsLoRA. alpha comes from, in order:
//  1. the pair's ".alpha" tensor (kohya and most single-file LoRAs);
//  2. PEFT's adapter_config.json beside an adapter_model.* (lora_alpha,
//     alpha_pattern; r and rank_pattern must agree with the factors);
//  3. a GGUF adapter's "adapter.lora.alpha";
//  4. the rank (scale = strength): the convention of files that store none.
// An .alpha tensor that disagrees with the PEFT config is refused: PEFT and a
// kohya-style reader would apply the file at different strengths.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "lora/lora_file.h"
#include "lora/name_match.h"

namespace wm {

struct PairScale {
  double scale = 1;
  bool alpha_from_rank = false;  // case 4: nothing in the file said
  std::string why;               // "1 x lora_alpha 8 / r 4 (adapter_config.json)", for the log
};

// `rank` is the factors' rank (down's first dimension). Errors name the LoRA
// file (or its config), the tensor and its offset.
Result<PairScale> pair_scale(const LoraFile& file, const LoraPair& pair, uint32_t rank, float strength);

}  // namespace wm
