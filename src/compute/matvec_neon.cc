// NEON kernel (AArch64 Advanced SIMD), the lane schedule of
// matvec_kernels.h: in each step of 32 columns, columns 4a..4a+3 go to
// accumulator a (lanes 4a..4a+3, a < 8), each a multiply then an add (no
// FMA: vmulq/vaddq, and -ffp-contract=off keeps GCC from fusing them); the
// last cols % 32 columns go through the scalar tail into the same lanes.
// Every dtype decodes its weights to F32 vectors exactly as its codec in
// dtype/ dequantises (same operations, same order, same roundings), so y is
// bit-identical to the portable kernel and to the same matrix as F32. The
// K-quants are not here: they take x as Q8_K (kquant_neon.cc).
#include <arm_neon.h>

#include <cstring>

#include "compute/matvec_kernels.h"
#include "compute/weight_decode.h"

namespace wm::kernels {
namespace {

constexpr int kVectors = kLanes / 4;  // float32x4 accumulators per step

inline const uint8_t* u8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }
inline const uint16_t* u16(const std::byte* p) { return reinterpret_cast<const uint16_t*>(p); }

// 16 signed bytes as four float vectors (elements 0..3, 4..7, 8..11, 12..15).
inline void bytes16_to_ps(int8x16_t q, float32x4_t* w) {
  int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
  w[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
  w[1] = vcvtq_f32_s32(vmovl_high_s16(lo));
  w[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
  w[3] = vcvtq_f32_s32(vmovl_high_s16(hi));
}

// 16 bytes of packed nibbles: low nibbles are elements 0..15, high nibbles
// 16..31 (the ggml Q4_0/Q4_1/Q5_x element order).
inline void nibbles_32(const std::byte* p, uint8x16_t* lo, uint8x16_t* hi) {
  uint8x16_t b = vld1q_u8(u8(p));
  *lo = vandq_u8(b, vdupq_n_u8(0x0f));
  *hi = vshrq_n_u8(b, 4);
}

// Byte i = 0x10 where bit i of `bits` (16 bits) is set, else 0: the fifth
// bits of 16 Q5_0/Q5_1 elements.
inline uint8x16_t fifth_bits_16(uint32_t bits) {
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  uint8x16_t spread = vcombine_u8(vdup_n_u8(static_cast<uint8_t>(bits)), vdup_n_u8(static_cast<uint8_t>(bits >> 8)));
  return vandq_u8(vtstq_u8(spread, vld1q_u8(kBit)), vdupq_n_u8(0x10));
}

inline uint32_t load_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float32x4_t half_at(const std::byte* p) { return vdupq_n_f32(f16_to_f32(load_u16(p))); }

// 32 integer weights (two vectors of 16 bytes, values that fit int8) as
// floats times d, or times d plus m: the codecs' d * q and q * d + m.
inline void scaled(int8x16_t q0, int8x16_t q1, float32x4_t d, float32x4_t* w) {
  bytes16_to_ps(q0, w);
  bytes16_to_ps(q1, w + 4);
  for (int a = 0; a < kVectors; ++a) w[a] = vmulq_f32(w[a], d);
}
inline void scaled_plus(int8x16_t q0, int8x16_t q1, float32x4_t d, float32x4_t m, float32x4_t* w) {
  scaled(q0, q1, d, w);
  for (int a = 0; a < kVectors; ++a) w[a] = vaddq_f32(w[a], m);
}

struct F32Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    const float* f = reinterpret_cast<const float*>(row) + j;
    for (int a = 0; a < kVectors; ++a) w[a] = vld1q_f32(f + 4 * a);
  }
};

// F16 to F32 by the base architecture's FCVTL: exact, as dtype/half.h's f16_to_f32.
struct F16Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    for (int b = 0; b < 4; ++b) {
      float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(u16(row + 2 * (j + 8 * b))));
      w[2 * b] = vcvt_f32_f16(vget_low_f16(h));
      w[2 * b + 1] = vcvt_high_f32_f16(h);
    }
  }
};

struct BF16Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    for (int b = 0; b < 4; ++b) {
      uint16x8_t h = vld1q_u16(u16(row + 2 * (j + 8 * b)));
      w[2 * b] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
      w[2 * b + 1] = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    }
  }
};

// Quantised rows are whole 32-element blocks, so j is always a multiple of
// 32 and a step of 32 is one block.

// Q8_0: d (F16), 32 x int8 q; w = d * q.
struct Q8_0Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    const std::byte* blk = row + j / kQuantBlockElems * kQ8_0BlockBytes;
    scaled(vld1q_s8(reinterpret_cast<const int8_t*>(blk + 2)), vld1q_s8(reinterpret_cast<const int8_t*>(blk + 18)),
           half_at(blk), w);
  }
};

// Q4_0: d, 16 bytes of nibbles; w = d * (q - 8).
struct Q4_0Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    const std::byte* blk = row + j / kQuantBlockElems * kQ4_0BlockBytes;
    uint8x16_t lo, hi;
    nibbles_32(blk + 2, &lo, &hi);
    int8x16_t eight = vdupq_n_s8(8);
    scaled(vsubq_s8(vreinterpretq_s8_u8(lo), eight), vsubq_s8(vreinterpretq_s8_u8(hi), eight), half_at(blk), w);
  }
};

// Q4_1: d, m, 16 bytes of nibbles; w = q * d + m.
struct Q4_1Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    const std::byte* blk = row + j / 32 * 20;
    uint8x16_t lo, hi;
    nibbles_32(blk + 4, &lo, &hi);
    scaled_plus(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), half_at(blk), half_at(blk + 2), w);
  }
};

// The 32 five-bit values of a Q5_0/Q5_1 block: nibbles at qs, fifth bits at qh.
inline void q5_values(const std::byte* qh, const std::byte* qs, uint8x16_t* lo, uint8x16_t* hi) {
  uint32_t bits = load_u32(qh);
  nibbles_32(qs, lo, hi);
  *lo = vorrq_u8(*lo, fifth_bits_16(bits));
  *hi = vorrq_u8(*hi, fifth_bits_16(bits >> 16));
}

// Q5_0: d, 32 fifth bits, 16 bytes of nibbles; w = (q - 16) * d.
struct Q5_0Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    const std::byte* blk = row + j / 32 * 22;
    uint8x16_t lo, hi;
    q5_values(blk + 2, blk + 6, &lo, &hi);
    int8x16_t sixteen = vdupq_n_s8(16);
    scaled(vsubq_s8(vreinterpretq_s8_u8(lo), sixteen), vsubq_s8(vreinterpretq_s8_u8(hi), sixteen), half_at(blk), w);
  }
};

// Q5_1: d, m, 32 fifth bits, 16 bytes of nibbles; w = q * d + m.
struct Q5_1Weights {
  static void load32(const std::byte* row, uint64_t j, float32x4_t* w) {
    const std::byte* blk = row + j / 32 * 24;
    uint8x16_t lo, hi;
    q5_values(blk + 4, blk + 8, &lo, &hi);
    scaled_plus(vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), half_at(blk), half_at(blk + 2), w);
  }
};

template <class Weights>
float dot_row(DType dtype, const std::byte* row, const float* x, uint64_t cols) {
  float32x4_t acc[kVectors], w[kVectors];
  for (auto& a : acc) a = vdupq_n_f32(0);
  uint64_t j = 0;
  for (; j + kLanes <= cols; j += kLanes) {
    Weights::load32(row, j, w);
    for (int a = 0; a < kVectors; ++a) acc[a] = vaddq_f32(acc[a], vmulq_f32(w[a], vld1q_f32(x + j + 4 * a)));
  }
  alignas(16) float lanes[kLanes];
  for (int a = 0; a < kVectors; ++a) vst1q_f32(lanes + 4 * a, acc[a]);
  if (j < cols) {  // float dtypes only: quantised rows are whole blocks
    float wt[kLanes];
    for (uint64_t i = 0; j + i < cols; ++i) wt[i] = decode_float_elem(dtype, row, j + i);
    add_products(lanes, wt, x + j, static_cast<int>(cols - j));
  }
  return sum_lanes(lanes);
}

template <class Weights>
void rows(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  uint64_t row_bytes = w.row_bytes();
  for (uint64_t r = row_begin; r < row_end; ++r) y[r] = dot_row<Weights>(w.dtype, w.data + r * row_bytes, x, w.cols);
}

}  // namespace

void matvec_rows_neon(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  switch (w.dtype) {
    case DType::F32: rows<F32Weights>(w, x, y, row_begin, row_end); break;
    case DType::F16: rows<F16Weights>(w, x, y, row_begin, row_end); break;
    case DType::BF16: rows<BF16Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q8_0: rows<Q8_0Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q4_0: rows<Q4_0Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q4_1: rows<Q4_1Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q5_0: rows<Q5_0Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q5_1: rows<Q5_1Weights>(w, x, y, row_begin, row_end); break;
    default: break;
  }
}

}  // namespace wm::kernels
