// The scalar float types as one-element "blocks", so that code working
// through block codecs (the LoRA merge) treats F32/F16/BF16 and the
// quantised types alike. Rounding to F16/BF16 is to nearest even (half.h).
#include <cstring>

#include "dtype/block_codec.h"
#include "dtype/half.h"

namespace wm {
namespace {

void dequantize_f32(const std::byte* src, float* out, uint64_t n) { std::memcpy(out, src, n * 4); }
void quantize_f32(const float* x, std::byte* dst, uint64_t n) { std::memcpy(dst, x, n * 4); }

template <float (*ToFloat)(uint16_t)>
void dequantize_half(const std::byte* src, float* out, uint64_t n) {
  for (uint64_t k = 0; k < n; ++k) {
    uint16_t h;
    std::memcpy(&h, src + 2 * k, 2);
    out[k] = ToFloat(h);
  }
}

template <uint16_t (*FromFloat)(float)>
void quantize_half(const float* x, std::byte* dst, uint64_t n) {
  for (uint64_t k = 0; k < n; ++k) {
    uint16_t h = FromFloat(x[k]);
    std::memcpy(dst + 2 * k, &h, 2);
  }
}

}  // namespace

const BlockCodec kCodecF32{dequantize_f32, quantize_f32};
const BlockCodec kCodecF16{dequantize_half<f16_to_f32>, quantize_half<f32_to_f16>};
const BlockCodec kCodecBF16{dequantize_half<bf16_to_f32>, quantize_half<f32_to_bf16>};

}  // namespace wm
