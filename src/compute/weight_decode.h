// Scalar decoding of float weights to F32, exactly as dtype/convert.cc
// converts them, for the SIMD kernels' row tails. Internal.
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

// Block sizes of the types the AVX-512 kernel decodes inline (the type
// table's values, dtype/dtype.cc; the kernel tests check them).
constexpr uint64_t kQ8_0BlockBytes = 34;
constexpr uint64_t kQ4_0BlockBytes = 18;
constexpr uint64_t kQuantBlockElems = 32;

}  // namespace wm::kernels
