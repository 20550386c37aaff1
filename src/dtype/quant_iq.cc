// The table-lookup 4-bit types: IQ4_NL and IQ4_XS (ggml's non-linear
// kvalues_iq4nl grid) and MXFP4 (E2M1 values with an E8M0 block scale).
// Arithmetic follows ggml's dequantize_row_* operation for operation.
#include <bit>
#include <cstdint>
#include <cstring>

#include "dtype/block_codec.h"
#include "dtype/quant_common.h"

namespace wm {
namespace {

using quant::kIq4nlValues;
using quant::load_f16;
using quant::u8;

// IQ4_NL: d (f16) | 16 bytes, element j the low nibble of byte j, element
// j + 16 its high nibble; value d * table[q].
void dequantize_iq4_nl(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 18, y += 32) {
    const float d = load_f16(src);
    for (int j = 0; j < 16; ++j) {
      const uint8_t q = u8(src + 2 + j);
      y[j] = d * static_cast<float>(kIq4nlValues[q & 0xf]);
      y[j + 16] = d * static_cast<float>(kIq4nlValues[q >> 4]);
    }
  }
}

// IQ4_XS: d (f16) | scales_h (u16) | scales_l[4] | qs[128]. Sub-block ib of
// 32 has the six-bit scale (nibble ib % 2 of scales_l[ib / 2]) | (bits 2 ib
// of scales_h) << 4, minus 32; its 16 bytes pack as IQ4_NL.
void dequantize_iq4_xs(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 136) {
    const float d = load_f16(src);
    uint16_t scales_h;
    std::memcpy(&scales_h, src + 2, 2);
    const std::byte* qs = src + 8;
    for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
      const int ls = ((u8(src + 4 + ib / 2) >> (4 * (ib % 2))) & 0xf) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        const uint8_t q = u8(qs + j);
        y[j] = dl * static_cast<float>(kIq4nlValues[q & 0xf]);
        y[j + 16] = dl * static_cast<float>(kIq4nlValues[q >> 4]);
      }
    }
  }
}

// MXFP4: e (E8M0) | 16 bytes packed as IQ4_NL, the values doubled E2M1.
// ggml_e8m0_to_fp32_half: 2^(e - 127) / 2, with the two smallest exponents
// as subnormal floats.
float e8m0_to_f32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? uint32_t{0x00200000} << e : static_cast<uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

void dequantize_mxfp4(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 17, y += 32) {
    const float d = e8m0_to_f32_half(u8(src));
    for (int j = 0; j < 16; ++j) {
      const uint8_t q = u8(src + 1 + j);
      y[j] = static_cast<float>(kMxfp4Values[q & 0xf]) * d;
      y[j + 16] = static_cast<float>(kMxfp4Values[q >> 4]) * d;
    }
  }
}

}  // namespace

const BlockCodec kCodecIQ4_NL{dequantize_iq4_nl, nullptr};
const BlockCodec kCodecIQ4_XS{dequantize_iq4_xs, nullptr};
const BlockCodec kCodecMXFP4{dequantize_mxfp4, nullptr};

}  // namespace wm
