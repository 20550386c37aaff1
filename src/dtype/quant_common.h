// Small helpers the block codecs share: little-endian field reads and
// writes, and ggml's rounding helper. Internal to src/dtype/.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <climits>
#include <cstring>

#include "dtype/half.h"

namespace wm::quant {

inline uint8_t u8(const std::byte* p) { return static_cast<uint8_t>(*p); }
inline int8_t i8(const std::byte* p) { return static_cast<int8_t>(*p); }

inline float load_f16(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Stores f as F16 and returns the value the block now holds: the
// quantisers reuse the rounded scale, as ggml's do.
inline float store_f16(std::byte* p, float f) {
  uint16_t h = f32_to_f16(f);
  std::memcpy(p, &h, 2);
  return f16_to_f32(h);
}

// ggml's nearest_int: adding 1.5 * 2^23 leaves round(f) (ties to even) in
// the low mantissa bits. Valid for |f| <= 2^22 - 1, which the quantisers'
// scaled values always are; std::nearbyint would depend on the rounding mode.
inline int nearest_int(float f) {
  float v = f + 12582912.0f;
  auto bits = std::bit_cast<int32_t>(v);
  return (bits & 0x007fffff) - 0x00400000;
}

// (int)v, truncating as C does, for the legacy quantisers' `(int8_t)(v + 8.5f)`;
// a NaN or out-of-range v (a block with an infinite or NaN value: ggml's cast
// is undefined behaviour there) gives the nearest int limit or 0, so a hostile
// base can make a garbage block but never a crash.
inline int trunc_to_int(float v) {
  if (!(v == v)) return 0;
  if (v <= -2147483648.0f) return INT32_MIN;
  if (v >= 2147483648.0f) return INT32_MAX;
  return static_cast<int>(v);
}

// ggml's lookup table of the non-linear 4-bit types (IQ4_NL, IQ4_XS).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

}  // namespace wm::quant
