// Scalar decoding of weight blocks to F32, exactly as dtype/convert.cc
// converts them (one rounding of d * q for the quantised types), shared by
// the kernels for their tails and by the portable kernel. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dtype/block_codec.h"
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

// The 32 values of the Q8_0 block at `blk` (F16 scale d, 32 x int8 q):
// the one Q8_0 dequantiser, dtype/block_codec.h.
inline void decode_q8_0_block(const std::byte* blk, float* out) { kCodecQ8_0.dequantize(blk, out, 1); }

// The 32 values of the Q4_0 block at `blk` (F16 scale d, 16 bytes: element
// i is the low nibble of byte i, element i + 16 its high nibble, minus 8).
inline void decode_q4_0_block(const std::byte* blk, float* out) { kCodecQ4_0.dequantize(blk, out, 1); }

constexpr uint64_t kQ8_0BlockBytes = 34;
constexpr uint64_t kQ4_0BlockBytes = 18;
constexpr uint64_t kQuantBlockElems = 32;

}  // namespace wm::kernels
