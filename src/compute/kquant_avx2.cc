// AVX2 K-quant kernel, ggml's way (ggml_vec_dot_q4_K_q8_K and kin): the
// weights' small unsigned integers times x's int8 values with
// _mm256_maddubs_epi16 (pairs summed to int16, never saturating here: at
// most 2 * 63 * 128), times the sub-block scale with _mm256_madd_epi16
// into int32, summed per block; then add_block, as the portable kernel.
#include <immintrin.h>

#include <cstring>

#include "compute/kquant_kernels.h"
#include "dtype/half.h"
#include "dtype/k_scales.h"

#define WM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace wm::kernels {
namespace {

inline float f16_at(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16_to_f32(v);
}

WM_AVX2 inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

WM_AVX2 inline int32_t sum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// acc += scale * (q . x) for 32 elements: q unsigned (< 64), x signed.
WM_AVX2 inline __m256i add_scaled_dot(__m256i acc, __m256i q, const int8_t* x, __m256i scale) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q, load256(x)), scale));
}

// Q4_K / Q5_K: layouts as in kquant_portable.cc. 32 bytes of qs hold
// sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles).
template <bool kFive>
WM_AVX2 float dot_k4(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  constexpr uint64_t kBytes = kFive ? 176 : 144;
  const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * kBytes;
    const std::byte* qs = blk + (kFive ? 48 : 16);
    const Q8KBlock& xb = x[b];
    uint8_t sc[8], m[8];
    int32_t msum = 0;
    for (int j = 0; j < 8; ++j) {
      quant::scale_min_k4(j, blk + 4, &sc[j], &m[j]);
      msum += m[j] * (xb.bsums[2 * j] + xb.bsums[2 * j + 1]);
    }
    __m256i acc = _mm256_setzero_si256();
    [[maybe_unused]] __m256i qh = kFive ? load256(blk + 16) : _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      __m256i bytes = load256(qs + 32 * p);
      __m256i lo = _mm256_and_si256(bytes, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
      if constexpr (kFive) {  // bit j of qh[l] is the fifth bit of sub-block j
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one), 4));
      }
      acc = add_scaled_dot(acc, lo, xb.qs + 64 * p, _mm256_set1_epi16(sc[2 * p]));
      acc = add_scaled_dot(acc, hi, xb.qs + 64 * p + 32, _mm256_set1_epi16(sc[2 * p + 1]));
    }
    add_block(sum, f16_at(blk), f16_at(blk + 2), xb.d, sum_i32(acc), msum);
  }
  return sum;
}

// Q6_K: q - 32 with q in 0..63, so q . x - 32 * (sum of x) per 16
// elements, the sum of x being bsums (exact in int32 either way).
WM_AVX2 float dot_q6_k(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * 210;
    const Q8KBlock& xb = x[b];
    int16_t sc[16];
    int32_t offset = 0;
    for (int k = 0; k < 16; ++k) {
      sc[k] = static_cast<int8_t>(blk[192 + k]);
      offset += sc[k] * xb.bsums[k];
    }
    __m256i acc = _mm256_setzero_si256();
    for (int n = 0; n < 2; ++n) {
      __m256i ql[2] = {load256(blk + 64 * n), load256(blk + 64 * n + 32)};
      __m256i qh = load256(blk + 128 + 32 * n);
      for (int g = 0; g < 4; ++g) {
        __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql[g % 2], 4 * (g / 2)), low4);
        __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), two), 4);
        // Elements 0..15 (the low 128 bits) take scale 2g, 16..31 scale 2g + 1.
        __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[8 * n + 2 * g + 1]), _mm_set1_epi16(sc[8 * n + 2 * g]));
        acc = add_scaled_dot(acc, _mm256_or_si256(lo, hi), xb.qs + 128 * n + 32 * g, scale);
      }
    }
    add_block(sum, f16_at(blk + 208), 0.0f, xb.d, sum_i32(acc) - 32 * offset, 0);
  }
  return sum;
}

}  // namespace

void kquant_rows_avx2(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end) {
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
