// The arithmetic of LoRA `immediately` on a device (the cuda kernel, and the
// sim device that stands in for it), written once for host and device:
// W[i][j] += sum over terms, then over k, of (scale * up[i][k]) * down[k][j],
// in F32, each product and sum rounded on its own, then rounded to the
// tensor's dtype: what lora/merge.cc's add_lora_delta gives on the CPU, bit
// for bit (tests/cuda_convert_math_test.cc checks it against it).
#pragma once

#include <cstdint>

#include "device/cuda/convert_math.h"

namespace wm::cuda {

// One term's factors, where the kernel reads them (device or host memory).
struct LowRankView {
  const float* up;    // rows x rank, row-major
  const float* down;  // rank x cols, row-major
  uint32_t rank;
  float scale;
};

// The dtypes a device patches in place: the float ones whose codec is an
// element-wise round (the block types need a quantiser: the CPU does those).
WM_HD constexpr bool low_rank_patchable(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

WM_HD float load_value(DType t, const uint8_t* w, uint64_t e) {
  if (t == DType::F32) return float_of(le32(w + 4 * e));
  const uint16_t h = static_cast<uint16_t>(le16(w + 2 * e));
  return t == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

WM_HD void store_value(DType t, uint8_t* w, uint64_t e, float v) {
  if (t == DType::F32) return put_le32(w + 4 * e, bits_of(v));
  put_le16(w + 2 * e, t == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v));
}

// Element (i, j) of a rows x cols tensor of dtype `t` at `w`, patched.
// REQUIRES: low_rank_patchable(t).
WM_HD void patch_element(DType t, uint8_t* w, uint64_t i, uint64_t j, uint64_t cols, const LowRankView* terms,
                         uint32_t n_terms) {
  const uint64_t e = i * cols + j;
  float v = load_value(t, w, e);
  for (uint32_t n = 0; n < n_terms; ++n) {
    const LowRankView& term = terms[n];
    for (uint32_t k = 0; k < term.rank; ++k) {
      const float c = mul(term.scale, term.up[i * term.rank + k]);
      v = add(v, mul(c, term.down[k * cols + j]));
    }
  }
  store_value(t, w, e, v);
}

}  // namespace wm::cuda
