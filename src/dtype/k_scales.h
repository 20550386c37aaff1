// The packed 6-bit scales and mins of the Q4_K and Q5_K super-blocks, read
// one way: by their codecs (quant_k.cc) and by the compute kernels that
// take these blocks' integers directly (compute/kquant_portable.cc; the
// AVX2 kernel unpacks all eight at once and is tested against this).
#pragma once

#include <cstddef>
#include <cstdint>

namespace wm::quant {

// Scale and min of sub-block j (0..7) from the 12 bytes at q (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const std::byte* q, uint8_t* sc, uint8_t* m) {
  auto at = [q](int k) { return static_cast<uint8_t>(q[k]); };
  if (j < 4) {
    *sc = at(j) & 63;
    *m = at(j + 4) & 63;
  } else {
    *sc = static_cast<uint8_t>((at(j + 4) & 0xf) | ((at(j - 4) >> 6) << 4));
    *m = static_cast<uint8_t>((at(j + 4) >> 4) | ((at(j) >> 6) << 4));
  }
}

}  // namespace wm::quant
