// AVX2 + FMA + F16C kernel. Four accumulators of 8 lanes: in each step of 32
// columns, columns 8a..8a+7 go to accumulator a; leftover whole groups of 8
// go to accumulators 0, 1, 2; a final partial group (zero padded) to
// accumulator 3. Every dtype decodes its weights to F32 vectors (exactly,
// or with the single rounding of d * q that dtype/convert.cc also does) and
// feeds them through this same schedule, hence bit-identical to F32.
#include <immintrin.h>

#include "compute/matvec_kernels.h"
#include "compute/weight_decode.h"

#define WM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace wm::kernels {
namespace {

struct F32Weights {
  WM_AVX2 static __m256 load8(const std::byte* row, uint64_t j) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + j);
  }
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    for (int a = 0; a < 4; ++a) w[a] = load8(row, j + 8 * a);
  }
};

struct F16Weights {
  WM_AVX2 static __m256 load8(const std::byte* row, uint64_t j) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j)));
  }
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    for (int a = 0; a < 4; ++a) w[a] = load8(row, j + 8 * a);
  }
};

struct BF16Weights {
  WM_AVX2 static __m256 load8(const std::byte* row, uint64_t j) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    for (int a = 0; a < 4; ++a) w[a] = load8(row, j + 8 * a);
  }
};

// Quantised rows are whole 32-element blocks, so only load32 is ever used.
struct Q8_0Weights {
  WM_AVX2 static __m256 load8(const std::byte*, uint64_t) { return _mm256_setzero_ps(); }
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / kQuantBlockElems * kQ8_0BlockBytes;
    __m256 d = _mm256_set1_ps(f16_to_f32(load_u16(blk)));
    for (int a = 0; a < 4; ++a) {
      __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + 8 * a));
      w[a] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
    }
  }
};

struct Q4_0Weights {
  WM_AVX2 static __m256 load8(const std::byte*, uint64_t) { return _mm256_setzero_ps(); }
  WM_AVX2 static void load32(const std::byte* row, uint64_t j, __m256* w) {
    const std::byte* blk = row + j / kQuantBlockElems * kQ4_0BlockBytes;
    __m256 d = _mm256_set1_ps(f16_to_f32(load_u16(blk)));
    __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    __m128i mask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    __m128i lo = _mm_sub_epi8(_mm_and_si128(bytes, mask), eight);                     // elements 0..15
    __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), eight);  // elements 16..31
    __m128i q[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int a = 0; a < 4; ++a) w[a] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q[a])));
  }
};

WM_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <class Weights>
WM_AVX2 float dot_row(DType dtype, const std::byte* row, const float* x, uint64_t cols) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  __m256 w[4];
  uint64_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    Weights::load32(row, j, w);
    for (int a = 0; a < 4; ++a) acc[a] = _mm256_fmadd_ps(w[a], _mm256_loadu_ps(x + j + 8 * a), acc[a]);
  }
  for (int a = 0; j + 8 <= cols; j += 8, ++a)
    acc[a] = _mm256_fmadd_ps(Weights::load8(row, j), _mm256_loadu_ps(x + j), acc[a]);
  if (j < cols) {
    alignas(32) float wt[8] = {}, xt[8] = {};
    for (uint64_t i = 0; j + i < cols; ++i) {
      wt[i] = decode_float_elem(dtype, row, j + i);
      xt[i] = x[j + i];
    }
    acc[3] = _mm256_fmadd_ps(_mm256_load_ps(wt), _mm256_load_ps(xt), acc[3]);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
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
    default: break;
  }
}

}  // namespace wm::kernels
