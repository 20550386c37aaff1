// AVX-512 F kernel, the lane schedule of matvec_kernels.h: in each step of
// 32 columns, columns 16a..16a+15 go to accumulator a (lanes 16a..16a+15),
// a multiply then an add (no FMA); the last cols % 32 columns go through the
// scalar tail. Every dtype decodes its weights to F32 vectors and feeds them
// through this same schedule, hence bit-identical to F32 and to the other
// levels. Q4_1, Q5_0 and Q5_1 run the AVX2 kernels: the same schedule, so
// the same bits (every AVX-512 F CPU has AVX2, FMA and F16C; cpu_features
// checks); so do the K-quants (simd_levels_x86_64.cc routes them to
// kquant_avx2.cc). Compiled on x86-64 only; run only where the CPU has AVX-512 F.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics build "undefined" vectors by self-assignment
// (`__m512 __Y = __Y;`), which -Wuninitialized flags once inlined here.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__GNUC__) && !defined(__clang__)  // a GCC-only warning; clang (fuzz build) rejects the name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "compute/matvec_kernels.h"
#include "compute/weight_decode.h"

#define WM_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

namespace wm::kernels {
namespace {

struct F32Weights {
  WM_AVX512 static __m512 load16(const std::byte* row, uint64_t j) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + j);
  }
};

struct F16Weights {
  WM_AVX512 static __m512 load16(const std::byte* row, uint64_t j) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j)));
  }
};

struct BF16Weights {
  WM_AVX512 static __m512 load16(const std::byte* row, uint64_t j) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * j));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};

// Quantised rows are whole 32-element blocks; a group of 16 is one half of a block.
struct Q8_0Weights {
  WM_AVX512 static __m512 load16(const std::byte* row, uint64_t j) {
    const std::byte* blk = row + j / kQuantBlockElems * kQ8_0BlockBytes;
    __m512 d = _mm512_set1_ps(f16_to_f32(load_u16(blk)));
    __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2 + j % kQuantBlockElems));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
  }
};

struct Q4_0Weights {
  WM_AVX512 static __m512 load16(const std::byte* row, uint64_t j) {
    const std::byte* blk = row + j / kQuantBlockElems * kQ4_0BlockBytes;
    __m512 d = _mm512_set1_ps(f16_to_f32(load_u16(blk)));
    __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    if (j % kQuantBlockElems != 0) bytes = _mm_srli_epi16(bytes, 4);  // high nibbles: elements 16..31
    __m128i q = _mm_sub_epi8(_mm_and_si128(bytes, _mm_set1_epi8(0x0f)), _mm_set1_epi8(8));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
  }
};

template <class Weights>
WM_AVX512 float dot_row(DType dtype, const std::byte* row, const float* x, uint64_t cols) {
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  uint64_t j = 0;
  for (; j + 32 <= cols; j += 32)
    for (int a = 0; a < 2; ++a)
      acc[a] = _mm512_add_ps(acc[a], _mm512_mul_ps(Weights::load16(row, j + 16 * a), _mm512_loadu_ps(x + j + 16 * a)));
  alignas(64) float lanes[kLanes];
  for (int a = 0; a < 2; ++a) _mm512_store_ps(lanes + 16 * a, acc[a]);
  if (j < cols) {  // float dtypes only: quantised rows are whole blocks
    float wt[kLanes];
    for (uint64_t i = 0; j + i < cols; ++i) wt[i] = decode_float_elem(dtype, row, j + i);
    add_products(lanes, wt, x + j, static_cast<int>(cols - j));
  }
  return sum_lanes(lanes);
}

template <class Weights>
WM_AVX512 void rows(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  uint64_t row_bytes = w.row_bytes();
  for (uint64_t r = row_begin; r < row_end; ++r) y[r] = dot_row<Weights>(w.dtype, w.data + r * row_bytes, x, w.cols);
}

}  // namespace

void matvec_rows_avx512(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  switch (w.dtype) {
    case DType::F32: rows<F32Weights>(w, x, y, row_begin, row_end); break;
    case DType::F16: rows<F16Weights>(w, x, y, row_begin, row_end); break;
    case DType::BF16: rows<BF16Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q8_0: rows<Q8_0Weights>(w, x, y, row_begin, row_end); break;
    case DType::Q4_0: rows<Q4_0Weights>(w, x, y, row_begin, row_end); break;
    default: matvec_rows_avx2(w, x, y, row_begin, row_end); break;
  }
}

}  // namespace wm::kernels
