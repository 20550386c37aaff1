#include "dtype/convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "dtype/half.h"

namespace wm {
namespace {

// Reads element k of a source as float (for the float-valued sources).
template <DType From>
float load(const std::byte* src, uint64_t k);

template <>
float load<DType::F32>(const std::byte* s, uint64_t k) {
  float v;
  std::memcpy(&v, s + 4 * k, 4);
  return v;
}
template <>
float load<DType::F16>(const std::byte* s, uint64_t k) {
  uint16_t h;
  std::memcpy(&h, s + 2 * k, 2);
  return f16_to_f32(h);
}
template <>
float load<DType::BF16>(const std::byte* s, uint64_t k) {
  uint16_t h;
  std::memcpy(&h, s + 2 * k, 2);
  return bf16_to_f32(h);
}
template <>
float load<DType::F64>(const std::byte* s, uint64_t k) {
  double v;
  std::memcpy(&v, s + 8 * k, 8);
  return static_cast<float>(v);
}
template <>
float load<DType::F8_E4M3>(const std::byte* s, uint64_t k) {
  return f8_e4m3_to_f32(static_cast<uint8_t>(s[k]));
}
template <>
float load<DType::F8_E5M2>(const std::byte* s, uint64_t k) {
  return f8_e5m2_to_f32(static_cast<uint8_t>(s[k]));
}

void store(DType to, std::byte* dst, uint64_t k, float v) {
  switch (to) {
    case DType::F32: std::memcpy(dst + 4 * k, &v, 4); break;
    case DType::F16: { uint16_t h = f32_to_f16(v); std::memcpy(dst + 2 * k, &h, 2); break; }
    case DType::BF16: { uint16_t h = f32_to_bf16(v); std::memcpy(dst + 2 * k, &h, 2); break; }
    default: break;
  }
}

template <DType To>
void store_as(std::byte* dst, uint64_t k, float v) {
  if constexpr (To == DType::F32) {
    std::memcpy(dst + 4 * k, &v, 4);
  } else {
    uint16_t h = To == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
    std::memcpy(dst + 2 * k, &h, 2);
  }
}

// The target is dispatched once per chunk, not per element, so the loop
// compiles to straight-line code the compiler can vectorise.
template <DType From, DType To>
void float_loop(const std::byte* src, std::byte* dst, uint64_t n) {
  for (uint64_t k = 0; k < n; ++k) store_as<To>(dst, k, load<From>(src, k));
}

template <DType From>
void float_to(DType to, const std::byte* src, std::byte* dst, uint64_t n) {
  switch (to) {
    case DType::F32: float_loop<From, DType::F32>(src, dst, n); break;
    case DType::F16: float_loop<From, DType::F16>(src, dst, n); break;
    case DType::BF16: float_loop<From, DType::BF16>(src, dst, n); break;
    default: break;
  }
}

bool is_float_target(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void dequant_q8_0(DType to, const std::byte* src, std::byte* dst, uint64_t n) {
  for (uint64_t b = 0; b < n / 32; ++b) {
    const std::byte* blk = src + 34 * b;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    float d = f16_to_f32(dh);
    for (int j = 0; j < 32; ++j) store(to, dst, b * 32 + j, d * static_cast<float>(static_cast<int8_t>(blk[2 + j])));
  }
}

void dequant_q4_0(DType to, const std::byte* src, std::byte* dst, uint64_t n) {
  for (uint64_t b = 0; b < n / 32; ++b) {
    const std::byte* blk = src + 18 * b;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    float d = f16_to_f32(dh);
    for (int j = 0; j < 16; ++j) {
      auto q = static_cast<uint8_t>(blk[2 + j]);
      store(to, dst, b * 32 + j, d * static_cast<float>((q & 0x0f) - 8));
      store(to, dst, b * 32 + j + 16, d * static_cast<float>((q >> 4) - 8));
    }
  }
}

}  // namespace

float f8_e4m3_to_f32(uint8_t v) {
  // E4M3 "fn": bias 7, no infinities, S.1111.111 is NaN.
  uint32_t sign = v >> 7, exp = (v >> 3) & 0xf, mant = v & 0x7;
  float mag;
  if (exp == 0xf && mant == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exp == 0) mag = std::ldexp(static_cast<float>(mant), -9);  // subnormal: mant/8 * 2^-6
  else mag = std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, static_cast<int>(exp) - 7);
  return sign ? -mag : mag;
}

float f8_e5m2_to_f32(uint8_t v) {
  // E5M2 is the top byte of an IEEE half.
  return f16_to_f32(static_cast<uint16_t>(v) << 8);
}

bool can_convert(DType from, DType to) {
  if (from == to) return true;
  switch (from) {
    case DType::F32: case DType::F16: case DType::BF16: return is_float_target(to);
    case DType::F64: return to == DType::F32;
    case DType::I64: return to == DType::I32;
    case DType::F8_E4M3: case DType::F8_E5M2: return to == DType::F16 || to == DType::F32;
    case DType::Q8_0: case DType::Q4_0: return to == DType::F16 || to == DType::F32;
    default: return false;
  }
}

uint64_t convert(DType from, DType to, const std::byte* src, std::byte* dst, uint64_t n) {
  if (from == to) {
    std::memcpy(dst, src, n / dtype_info(from).block_elems * dtype_info(from).block_bytes);
    return 0;
  }
  uint64_t out_of_range = 0;
  switch (from) {
    case DType::F32: float_to<DType::F32>(to, src, dst, n); break;
    case DType::F16: float_to<DType::F16>(to, src, dst, n); break;
    case DType::BF16: float_to<DType::BF16>(to, src, dst, n); break;
    case DType::F64: float_to<DType::F64>(to, src, dst, n); break;
    case DType::F8_E4M3: float_to<DType::F8_E4M3>(to, src, dst, n); break;
    case DType::F8_E5M2: float_to<DType::F8_E5M2>(to, src, dst, n); break;
    case DType::Q8_0: dequant_q8_0(to, src, dst, n); break;
    case DType::Q4_0: dequant_q4_0(to, src, dst, n); break;
    case DType::I64:
      for (uint64_t k = 0; k < n; ++k) {
        int64_t v;
        std::memcpy(&v, src + 8 * k, 8);
        if (v < INT32_MIN || v > INT32_MAX) ++out_of_range;
        auto w = static_cast<int32_t>(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX));
        std::memcpy(dst + 4 * k, &w, 4);
      }
      break;
    default: break;
  }
  return out_of_range;
}

}  // namespace wm
