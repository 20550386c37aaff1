// How far ggml's K-quant reference quantisers (Q4_K, Q5_K, Q6_K) may move a
// value, shared by the codec tests and the LoRA merge tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "weightmap/dtype.hpp"

namespace wm::test {

// Values sharing one sub-block scale.
inline size_t kquant_group(DType t) { return t == DType::Q6_K ? 16 : 32; }

// The step of the ideal grid of the sub-block `x[0, kquant_group)`: Q4_K/Q5_K
// put 32 values on levels 0..15/31 above a min <= 0, so the range (which
// reaches 0) over 15/31; Q6_K puts 16 values on -32..31, so amax / 32.
template <class T>
double kquant_step(DType t, const T* x) {
  double lo = 0, hi = 0, amax = 0;
  for (size_t j = 0; j < kquant_group(t); ++j) {
    const auto v = static_cast<double>(x[j]);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    amax = std::max(amax, std::fabs(v));
  }
  return t == DType::Q6_K ? amax / 32 : (hi - lo) / (t == DType::Q4_K ? 15 : 31);
}

// The bound for element j of the 256-value super-block `block`:
// - 2.5 steps of its sub-block: the nearest level is half a step away, and
//   the scale search may settle on a scale that clips the extremes (measured
//   up to 2.1 steps, quant_codec_test);
// - half the super-block's largest step: each sub-block's scale and min are
//   rounded to 6 bits (Q6_K: 8) of the super-block's largest, which moves a
//   value on the top level by nmax / 2 super-block steps, at most 31 / 126 of
//   the largest sub-block step for the scale and as much for the min (Q5_K,
//   the worst case).
template <class T>
double kquant_tolerance(DType t, const T* block, size_t j) {
  const size_t g = kquant_group(t);
  double largest = 0;
  for (size_t at = 0; at < 256; at += g) largest = std::max(largest, kquant_step(t, block + at));
  return 2.5 * kquant_step(t, block + j / g * g) + 0.5 * largest;
}

}  // namespace wm::test
