// The 32-element block types: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1. Layouts and
// arithmetic follow ggml's block_q* structs, dequantize_row_q* and
// quantize_row_q*_ref, operation for operation, so results are bit-identical.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <utility>

#include "dtype/block_codec.h"
#include "dtype/quant_common.h"

namespace wm {
namespace {

using quant::i8;
using quant::load_f16;
using quant::store_f16;
using quant::u8;

constexpr int kQK = 32;

uint32_t load_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Q4_0: d (f16) | 16 bytes: element j is the low nibble of byte j, element
// j + 16 its high nibble; value d * (q - 8).
void dequantize_q4_0(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 18, y += kQK) {
    const float d = load_f16(src);
    for (int j = 0; j < 16; ++j) {
      const uint8_t q = u8(src + 2 + j);
      y[j] = static_cast<float>((q & 0x0f) - 8) * d;
      y[j + 16] = static_cast<float>((q >> 4) - 8) * d;
    }
  }
}

// A block's smallest and largest value, as ggml's Q4_1/Q5_1 quantisers find them.
std::pair<float, float> min_max(const float* x) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    min = x[j] < min ? x[j] : min;
    max = x[j] > max ? x[j] : max;
  }
  return {min, max};
}

// The value of largest magnitude in a block, with its sign (the first such
// value on a tie), as ggml's Q4_0/Q5_0 quantisers choose it.
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

// The value of largest magnitude, with its sign, maps to -8.
void quantize_q4_0(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 18) {
    const float max = signed_absmax(x);
    const float d = max / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    for (int j = 0; j < 16; ++j) {
      const auto q = [&](float v) { return static_cast<uint8_t>(std::min(15, quant::trunc_to_int(v * id + 8.5f))); };
      dst[2 + j] = static_cast<std::byte>(q(x[j]) | (q(x[j + 16]) << 4));
    }
  }
}

// Q4_1: d, m (f16) | 16 nibble bytes as Q4_0; value d * q + m.
void dequantize_q4_1(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 20, y += kQK) {
    const float d = load_f16(src), m = load_f16(src + 2);
    for (int j = 0; j < 16; ++j) {
      const uint8_t q = u8(src + 4 + j);
      y[j] = static_cast<float>(q & 0x0f) * d + m;
      y[j + 16] = static_cast<float>(q >> 4) * d + m;
    }
  }
}

void quantize_q4_1(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 20) {
    const std::pair<float, float> range = min_max(x);
    const float min = range.first, max = range.second;
    const float d = (max - min) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    store_f16(dst + 2, min);
    for (int j = 0; j < 16; ++j) {
      const auto q = [&](float v) {
        return static_cast<uint8_t>(std::min(15, quant::trunc_to_int((v - min) * id + 0.5f)));
      };
      dst[4 + j] = static_cast<std::byte>(q(x[j]) | (q(x[j + 16]) << 4));
    }
  }
}

// Q5_0 / Q5_1: the fifth bit of element j is bit j of the 32-bit qh.
int q5_value(const std::byte* qs, uint32_t qh, int j) {
  const uint8_t byte = u8(qs + (j & 15));
  const int low = j < 16 ? (byte & 0x0f) : (byte >> 4);
  return low | static_cast<int>(((qh >> j) & 1u) << 4);
}

// Q5_0: d (f16) | qh (u32) | 16 nibble bytes; value d * (q - 16).
void dequantize_q5_0(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 22, y += kQK) {
    const float d = load_f16(src);
    const uint32_t qh = load_u32(src + 2);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(q5_value(src + 6, qh, j) - 16) * d;
  }
}

// Packs 32 five-bit values: low nibbles as Q4_0, fifth bits into qh.
void pack_q5(const uint8_t* q, std::byte* qh_dst, std::byte* qs_dst) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs_dst[j] = static_cast<std::byte>((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    qh |= static_cast<uint32_t>((q[j] & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((q[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_dst, &qh, 4);
}

void quantize_q5_0(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 22) {
    const float max = signed_absmax(x);
    const float d = max / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(std::min(31, quant::trunc_to_int(x[j] * id + 16.5f)));
    pack_q5(q, dst + 2, dst + 6);
  }
}

// Q5_1: d, m (f16) | qh (u32) | 16 nibble bytes; value d * q + m.
void dequantize_q5_1(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 24, y += kQK) {
    const float d = load_f16(src), m = load_f16(src + 2);
    const uint32_t qh = load_u32(src + 4);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(q5_value(src + 8, qh, j)) * d + m;
  }
}

void quantize_q5_1(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 24) {
    const std::pair<float, float> range = min_max(x);
    const float min = range.first, max = range.second;
    const float d = (max - min) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    store_f16(dst + 2, min);
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(quant::trunc_to_int((x[j] - min) * id + 0.5f));
    pack_q5(q, dst + 4, dst + 8);
  }
}

// Q8_0: d (f16) | 32 x int8; value d * q.
void dequantize_q8_0(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 34, y += kQK) {
    const float d = load_f16(src);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(i8(src + 2 + j)) * d;
  }
}

void quantize_q8_0(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 34) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    store_f16(dst, d);
    // Halves away from zero, as ggml's roundf; lround has no undefined
    // behaviour on a NaN (a hostile block), unlike a float-to-int cast.
    for (int j = 0; j < kQK; ++j) dst[2 + j] = static_cast<std::byte>(static_cast<int8_t>(std::lround(x[j] * id)));
  }
}

// Q8_1: d, s (f16; s = d * sum q, used only by ggml's dot products) | 32 x int8.
void dequantize_q8_1(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 36, y += kQK) {
    const float d = load_f16(src);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(i8(src + 4 + j)) * d;
  }
}

}  // namespace

const BlockCodec kCodecQ4_0{dequantize_q4_0, quantize_q4_0};
const BlockCodec kCodecQ4_1{dequantize_q4_1, quantize_q4_1};
const BlockCodec kCodecQ5_0{dequantize_q5_0, quantize_q5_0};
const BlockCodec kCodecQ5_1{dequantize_q5_1, quantize_q5_1};
const BlockCodec kCodecQ8_0{dequantize_q8_0, quantize_q8_0};
const BlockCodec kCodecQ8_1{dequantize_q8_1, nullptr};

}  // namespace wm
