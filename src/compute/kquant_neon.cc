// NEON K-quant kernel with the base architecture only (no SDOT, which is
// optional before Armv8.4): the weights' small unsigned integers times x's
// int8 values with SMULL/SMLAL2 into int16 (two products per lane, at most
// 2 * 63 * 128: no overflow), widened and summed into int32 per sub-block,
// times the sub-block scale in integers; then add_block, as the portable
// kernel. Integer sums are exact, so y is bit-identical to it. Layouts: see
// kquant_portable.cc.
#include <arm_neon.h>

#include <cstring>

#include "compute/kquant_kernels.h"
#include "dtype/half.h"
#include "dtype/k_scales.h"

namespace wm::kernels {
namespace {

inline const uint8_t* u8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }

inline float f16_at(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16_to_f32(v);
}

// sum_k q[k] * x[k] over 16 elements: q unsigned below 64, x int8.
inline int32_t dot16(uint8x16_t q, const int8_t* x) {
  int8x16_t a = vreinterpretq_s8_u8(q), b = vld1q_s8(x);
  int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), a, b);
  return vaddlvq_s16(p);
}

// Q4_K / Q5_K: 32 bytes of qs hold sub-blocks 2p (low nibbles) and 2p + 1
// (high nibbles); for Q5_K bit j of qh[l] is the fifth bit of sub-block j.
template <bool kFive>
float dot_k4(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  constexpr uint64_t kBytes = kFive ? 176 : 144;
  const uint8x16_t low4 = vdupq_n_u8(0x0f), one = vdupq_n_u8(1);
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * kBytes;
    const std::byte* qs = blk + (kFive ? 48 : 16);
    const Q8KBlock& xb = x[b];
    [[maybe_unused]] uint8x16_t qh[2] = {vld1q_u8(u8(blk + 16)), vld1q_u8(u8(blk + 32))};
    int32_t isum = 0, msum = 0;
    for (int p = 0; p < 4; ++p) {
      uint8_t sc_lo, m_lo, sc_hi, m_hi;
      quant::scale_min_k4(2 * p, blk + 4, &sc_lo, &m_lo);
      quant::scale_min_k4(2 * p + 1, blk + 4, &sc_hi, &m_hi);
      int32_t dot_lo = 0, dot_hi = 0;
      for (int h = 0; h < 2; ++h) {  // elements 16h..16h+15 of both sub-blocks
        uint8x16_t bytes = vld1q_u8(u8(qs + 32 * p + 16 * h));
        uint8x16_t lo = vandq_u8(bytes, low4), hi = vshrq_n_u8(bytes, 4);
        if constexpr (kFive) {
          uint8x16_t bits = qh[h];
          lo = vorrq_u8(lo, vshlq_n_u8(vandq_u8(vshlq_u8(bits, vdupq_n_s8(static_cast<int8_t>(-2 * p))), one), 4));
          hi = vorrq_u8(hi, vshlq_n_u8(vandq_u8(vshlq_u8(bits, vdupq_n_s8(static_cast<int8_t>(-2 * p - 1))), one), 4));
        }
        dot_lo += dot16(lo, xb.qs + 64 * p + 16 * h);
        dot_hi += dot16(hi, xb.qs + 64 * p + 32 + 16 * h);
      }
      isum += sc_lo * dot_lo + sc_hi * dot_hi;
      msum += m_lo * (xb.bsums[4 * p] + xb.bsums[4 * p + 1]) + m_hi * (xb.bsums[4 * p + 2] + xb.bsums[4 * p + 3]);
    }
    add_block(sum, f16_at(blk), f16_at(blk + 2), xb.d, isum, msum);
  }
  return sum;
}

// Q6_K: q - 32 with q in 0..63, so q . x - 32 * (sum of x) per 16
// elements, the sum of x being bsums (exact in int32 either way).
float dot_q6_k(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  const uint8x16_t low4 = vdupq_n_u8(0x0f), two = vdupq_n_u8(3);
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * 210;
    const Q8KBlock& xb = x[b];
    int32_t isum = 0;
    for (int n = 0; n < 2; ++n)
      for (int g = 0; g < 4; ++g)
        for (int h = 0; h < 2; ++h) {  // elements 128n + 32g + 16h .. +15: one scale
          uint8x16_t ql = vld1q_u8(u8(blk + 64 * n + 32 * (g % 2) + 16 * h));
          uint8x16_t lo = g / 2 == 0 ? vandq_u8(ql, low4) : vshrq_n_u8(ql, 4);
          uint8x16_t qh = vld1q_u8(u8(blk + 128 + 32 * n + 16 * h));
          uint8x16_t hi = vshlq_n_u8(vandq_u8(vshlq_u8(qh, vdupq_n_s8(static_cast<int8_t>(-2 * g))), two), 4);
          int k = 8 * n + 2 * g + h;  // the scale's index, and the bsums' (16 elements each)
          int32_t dot = dot16(vorrq_u8(lo, hi), xb.qs + 16 * k) - 32 * xb.bsums[k];
          isum += static_cast<int8_t>(blk[192 + k]) * dot;
        }
    add_block(sum, f16_at(blk + 208), 0.0f, xb.d, isum, 0);
  }
  return sum;
}

}  // namespace

void kquant_rows_neon(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end) {
  uint64_t row_bytes = w.row_bytes(), blocks = w.cols / kKBlockElems;
  for (uint64_t r = row_begin; r < row_end; ++r) {
    const std::byte* row = w.data + r * row_bytes;
    switch (w.dtype) {
      case DType::Q4_K: y[r] = dot_k4<false>(row, x, blocks); break;
      case DType::Q5_K: y[r] = dot_k4<true>(row, x, blocks); break;
      case DType::Q6_K: y[r] = dot_q6_k(row, x, blocks); break;
      default: break;
    }
  }
}

}  // namespace wm::kernels
