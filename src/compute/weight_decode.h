// Scalar decoding of weight blocks to F32, exactly as dtype/convert.cc
// converts them (one rounding of d * q for the quantised types), shared by
// the kernels for their tails and by the portable kernel. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dtype/dtype.h"
#include "dtype/half.h"

namespace wm::kernels {

inline uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Element j of a row of a plain float dtype (F32, F16, BF16).
inline float decode_float_elem(DType dtype, const std::byte* row, uint64_t j) {
  switch (dtype) {
    case DType::F16: return f16_to_f32(load_u16(row + 2 * j));
    case DType::BF16: return bf16_to_f32(load_u16(row + 2 * j));
    default: {
      float v;
      std::memcpy(&v, row + 4 * j, 4);
      return v;
    }
  }
}

// The 32 values of the Q8_0 block at `blk` (F16 scale d, 32 x int8 q).
inline void decode_q8_0_block(const std::byte* blk, float* out) {
  float d = f16_to_f32(load_u16(blk));
  for (int i = 0; i < 32; ++i) out[i] = d * static_cast<float>(static_cast<int8_t>(blk[2 + i]));
}

// The 32 values of the Q4_0 block at `blk` (F16 scale d, 16 bytes: element
// i is the low nibble of byte i, element i + 16 its high nibble, minus 8).
inline void decode_q4_0_block(const std::byte* blk, float* out) {
  float d = f16_to_f32(load_u16(blk));
  for (int i = 0; i < 16; ++i) {
    auto q = static_cast<uint8_t>(blk[2 + i]);
    out[i] = d * static_cast<float>((q & 0x0f) - 8);
    out[i + 16] = d * static_cast<float>((q >> 4) - 8);
  }
}

constexpr uint64_t kQ8_0BlockBytes = 34;
constexpr uint64_t kQ4_0BlockBytes = 18;
constexpr uint64_t kQuantBlockElems = 32;

}  // namespace wm::kernels
