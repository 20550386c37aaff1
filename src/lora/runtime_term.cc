#include "lora/runtime_term.h"

#include <vector>

namespace wm {

void add_lora_terms(std::span<const LoraTerm> terms, std::span<const float> x, std::span<float> y) {
  std::vector<float> h;  // down x: rank values
  for (const LoraTerm& t : terms) {
    h.assign(t.rank, 0.0f);
    for (uint32_t k = 0; k < t.rank; ++k) {
      const float* d = t.down.data() + k * t.cols;
      float s = 0;
      for (uint64_t j = 0; j < t.cols; ++j) s += d[j] * x[j];
      h[k] = t.scale * s;
    }
    for (uint64_t i = 0; i < t.rows; ++i) {
      const float* u = t.up.data() + i * t.rank;
      float s = 0;
      for (uint32_t k = 0; k < t.rank; ++k) s += u[k] * h[k];
      y[i] += s;
    }
  }
}

}  // namespace wm
