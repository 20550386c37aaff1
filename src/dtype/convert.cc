#include "dtype/convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "dtype/block_codec.h"
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

// A block type through its codec: whole blocks into a small stack buffer of
// floats (so any destination alignment works and nothing is allocated on the
// loader's copy path), then stored as the target, chunk by chunk.
void dequantize_to(DType from, DType to, const std::byte* src, std::byte* dst, uint64_t n) {
  constexpr uint64_t kChunkFloats = 1024;
  const DTypeInfo& info = dtype_info(from);
  const DequantizeFn dequantize = block_codec(from)->dequantize;
  const uint64_t blocks_per_chunk = kChunkFloats / info.block_elems;
  const uint64_t out_size = dtype_info(to).block_bytes;
  float buf[kChunkFloats];
  for (uint64_t b = 0, nblocks = n / info.block_elems; b < nblocks; b += blocks_per_chunk) {
    const uint64_t count = std::min(blocks_per_chunk, nblocks - b);
    dequantize(src + b * info.block_bytes, buf, count);
    float_to<DType::F32>(to, reinterpret_cast<const std::byte*>(buf), dst + b * info.block_elems * out_size,
                         count * info.block_elems);
  }
}

bool dequantizes(DType t) {
  const BlockCodec* codec = block_codec(t);
  return dtype_info(t).packing == Packing::kRowBlock && codec && codec->dequantize;
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
    default: return dequantizes(from) && is_float_target(to);
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
    case DType::I64:
      for (uint64_t k = 0; k < n; ++k) {
        int64_t v;
        std::memcpy(&v, src + 8 * k, 8);
        if (v < INT32_MIN || v > INT32_MAX) ++out_of_range;
        auto w = static_cast<int32_t>(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX));
        std::memcpy(dst + 4 * k, &w, 4);
      }
      break;
    default:
      if (dequantizes(from)) dequantize_to(from, to, src, dst, n);
      break;
  }
  return out_of_range;
}

}  // namespace wm
