// The run-time side of a LoRA: the base weight stays untouched and shared,
// and each use adds the low-rank update to the layer's output.
#pragma once

#include <span>

#include "lora/lora_types.h"

namespace wm {

// y += sum over terms of scale * up (down x), in F32.
// REQUIRES: every term has cols == x.size() and rows == y.size().
void add_lora_terms(std::span<const LoraTerm> terms, std::span<const float> x, std::span<float> y);

}  // namespace wm
