// AVX2 + F16C kernel, the lane schedule of matvec_kernels.h: in each step of
// 32 columns, columns 8a..8a+7 go to accumulator a (lanes 8a..8a+7), each a
// multiply then an add (no FMA); the last cols % 32 columns go through the
// scalar tail into the same lanes. Every dtype decodes its weights to F32
// vectors (exactly as its codec in dtype/ dequantises: same operations, same
// order, same roundings) and feeds them through this same schedule. The
// K-quants are not here: they take x as Q8_K (kquant_avx2.cc).
#include <immintrin.h>

#include <cstring>

#include "compute/matvec_kernels.h"
#include "compute/weight_decode.h"

#define WM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace wm::kernels {
namespace {

inline uint32_t load_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Eight signed / unsigned bytes at `bytes` (the low 8 of a 128-bit value) as floats.
WM_AVX2 inline __m256 i8_to_ps(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)); }
WM_AVX2 inline __m256 u8_to_ps(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }

// The 32 bytes of v as four groups of 8, each converted by `to_ps`.
template <class ToPs>
WM_AVX2 inline void bytes32_to_ps(__m256i v, ToPs to_ps, __m256* w) {
  __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  w[0] = to_ps(lo);
  w[1] = to_ps(_mm_srli_si128(lo, 8));
  w[2] = to_ps(hi);
  w[3] = to_ps(_mm_srli_si128(hi, 8));
}

// 16 bytes of packed nibbles as 32 bytes: low nibbles (elements 0..15), then
// high nibbles (16..31), the ggml Q4_0/Q4_1/Q5_x element order.
WM_AVX2 inline __m256i nibbles_32(const std::byte* p) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i mask = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), mask), _mm_and_si128(b, mask));
}

// Byte i = 0x10 where bit i of the 32-bit word at p is set, else 0 (the fifth
// bit of Q5_0/Q5_1 element i).
WM_AVX2 inline __m256i fifth_bits_32(const std::byte* p) {
  __m256i word = _mm256_set1_epi32(static_cast<int>(load_u32(p)));
  __m256i spread = _mm256_shuffle_epi8(word, _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                               0x0101010101010101, 0x0000000000000000));
  __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

WM_AVX2 inline __m256 scale(float d) { return _mm256_set1_ps(d); }

struct F32Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    for (int a = 0; a < 4; ++a) w[a] = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + j + 8 * a);
  }
};

struct F16Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    for (int a = 0; a < 4; ++a)
      w[a] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * (j + 8 * a))));
  }
};

struct BF16Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    for (int a = 0; a < 4; ++a) {
      __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * (j + 8 * a)));
      w[a] = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
};

// Quantised rows are whole 32-element blocks, so j is always a multiple of
// 32 and a step of 32 is one block. (The K-quants: kquant_avx2.cc.)

// Q8_0: d (F16), 32 x int8 q; w = d * q.
struct Q8_0Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / 32 * 34;
    __m256 d = scale(f16_to_f32(load_u16(blk)));
    bytes32_to_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)), i8_to_ps, w);
    for (int a = 0; a < 4; ++a) w[a] = _mm256_mul_ps(d, w[a]);
  }
};

// Q4_0: d, 16 bytes of nibbles; w = d * (q - 8).
struct Q4_0Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / 32 * 18;
    __m256 d = scale(f16_to_f32(load_u16(blk)));
    bytes32_to_ps(_mm256_sub_epi8(nibbles_32(blk + 2), _mm256_set1_epi8(8)), i8_to_ps, w);
    for (int a = 0; a < 4; ++a) w[a] = _mm256_mul_ps(d, w[a]);
  }
};

// Q4_1: d, m, 16 bytes of nibbles; w = q * d + m.
struct Q4_1Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / 32 * 20;
    __m256 d = scale(f16_to_f32(load_u16(blk))), m = scale(f16_to_f32(load_u16(blk + 2)));
    bytes32_to_ps(nibbles_32(blk + 4), u8_to_ps, w);
    for (int a = 0; a < 4; ++a) w[a] = _mm256_add_ps(_mm256_mul_ps(w[a], d), m);
  }
};

// Q5_0: d, 32 fifth bits, 16 bytes of nibbles; w = (q - 16) * d.
struct Q5_0Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / 32 * 22;
    __m256 d = scale(f16_to_f32(load_u16(blk)));
    __m256i q = _mm256_or_si256(nibbles_32(blk + 6), fifth_bits_32(blk + 2));
    bytes32_to_ps(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), i8_to_ps, w);
    for (int a = 0; a < 4; ++a) w[a] = _mm256_mul_ps(w[a], d);
  }
};

// Q5_1: d, m, 32 fifth bits, 16 bytes of nibbles; w = q * d + m.
struct Q5_1Weights {
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / 32 * 24;
    __m256 d = scale(f16_to_f32(load_u16(blk))), m = scale(f16_to_f32(load_u16(blk + 2)));
    bytes32_to_ps(_mm256_or_si256(nibbles_32(blk + 8), fifth_bits_32(blk + 4)), u8_to_ps, w);
    for (int a = 0; a < 4; ++a) w[a] = _mm256_add_ps(_mm256_mul_ps(w[a], d), m);
  }
};

// acc[a] += w[a] * x[8a..8a+7]: the product rounded, then added.
WM_AVX2 inline void add32(__m256* acc, const __m256* w, const float* x) {
  for (int a = 0; a < 4; ++a) acc[a] = _mm256_add_ps(acc[a], _mm256_mul_ps(w[a], _mm256_loadu_ps(x + 8 * a)));
}

template <class Weights>
WM_AVX2 float dot_row(DType dtype, const std::byte* row, const float* x, uint64_t cols) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  __m256 w[4];
  uint64_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    Weights::load32(row, j, w);
    add32(acc, w, x + j);
  }
  alignas(32) float lanes[kLanes];
  for (int a = 0; a < 4; ++a) _mm256_store_ps(lanes + 8 * a, acc[a]);
  if (j < cols) {  // float dtypes only: quantised rows are whole blocks
    float wt[kLanes];
    for (uint64_t i = 0; j + i < cols; ++i) wt[i] = decode_float_elem(dtype, row, j + i);
    add_products(lanes, wt, x + j, static_cast<int>(cols - j));
  }
  return sum_lanes(lanes);
}

template <class Weights>
WM_AVX2 void rows(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  uint64_t row_bytes = w.row_bytes();
  for (uint64_t r = row_begin; r < row_end; ++r) y[r] = dot_row<Weights>(w.dtype, w.data + r * row_bytes, x, w.cols);
}

}  // namespace

void matvec_rows_avx2(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
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
