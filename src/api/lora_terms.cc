// wm::add_lora_terms: the public, size-checked face of the run-time LoRA kernel.
#include <fmt/format.h>

#include "lora/runtime_term.h"
#include "weightmap/lora.hpp"

namespace wm {

Status add_lora_terms(const std::vector<LoraTerm>& terms, const float* x, size_t x_size, float* y, size_t y_size) {
  for (const LoraTerm& t : terms)
    if (t.cols != x_size || t.rows != y_size)
      return Error{t.source, {}, {},
                   fmt::format("LoRA term of {} x {} does not fit x of {} and y of {}", t.rows, t.cols, x_size, y_size),
                   ErrorCode::kInvalidArgument};
  add_lora_terms(std::span<const LoraTerm>(terms), std::span<const float>(x, x_size), std::span<float>(y, y_size));
  return {};
}

}  // namespace wm
