// AVX-512 F kernel. Four accumulators of 16 lanes: in each step of 64
// columns, columns 16a..16a+15 go to accumulator a; leftover whole groups of
// 16 go to accumulators 0, 1, 2; a final partial group (zero padded) to
// accumulator 3. Every dtype decodes its weights to F32 vectors and feeds
// them through this same schedule, hence bit-identical to F32 (see the AVX2
// kernel). Compiled everywhere; run only where the CPU has AVX-512 F.
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
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  uint64_t j = 0;
  for (; j + 64 <= cols; j += 64)
    for (int a = 0; a < 4; ++a)
      acc[a] = _mm512_fmadd_ps(Weights::load16(row, j + 16 * a), _mm512_loadu_ps(x + j + 16 * a), acc[a]);
  for (int a = 0; j + 16 <= cols; j += 16, ++a)
    acc[a] = _mm512_fmadd_ps(Weights::load16(row, j), _mm512_loadu_ps(x + j), acc[a]);
  if (j < cols) {
    alignas(64) float wt[16] = {}, xt[16] = {};
    for (uint64_t i = 0; j + i < cols; ++i) {
      wt[i] = decode_float_elem(dtype, row, j + i);
      xt[i] = x[j + i];
    }
    acc[3] = _mm512_fmadd_ps(_mm512_load_ps(wt), _mm512_load_ps(xt), acc[3]);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
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
    default: break;
  }
}

}  // namespace wm::kernels
