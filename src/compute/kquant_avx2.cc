// AVX2 K-quant kernel, ggml's way (ggml_vec_dot_q4_K_q8_K and kin): the
// weights' small unsigned integers times x's int8 values with
// _mm256_maddubs_epi16 (pairs summed to int16, never saturating here: at
// most 2 * 63 * 128), times the sub-block scale with _mm256_madd_epi16
// into int32, summed per block; then add_block, as the portable kernel.
#include <immintrin.h>

#include <cstring>

#include "compute/kquant_kernels.h"

#define WM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace wm::kernels {
namespace {

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

// The two F16 values at p (d and dmin) as floats, by F16C: exact, as
// dtype/half.h's f16_to_f32.
WM_AVX2 inline __m128 f16x2_at(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(v)));
}

// The 8 six-bit scales (bytes 0..7) and mins (8..15) packed in 12 bytes at
// q, unpacked with 32-bit word operations as ggml's AVX2 code does; the
// same values as quant::scale_min_k4 (j < 4: low 6 bits of q[j], q[j + 4];
// j >= 4: a nibble of q[j + 4] and the top 2 bits of q[j - 4], q[j]).
WM_AVX2 inline __m128i scales_mins_k4(const std::byte* q) {
  uint32_t u[4];
  std::memcpy(u, q, 12);
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);  // mins 4..7
  uint32_t mins_low = u[1] & kLow6;                               // mins 0..3
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);           // scales 4..7
  u[2] = mins_low;
  u[0] &= kLow6;  // scales 0..3
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
}

// Q4_K / Q5_K: layouts as in kquant_portable.cc. 32 bytes of qs hold
// sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles).
template <bool kFive>
WM_AVX2 float dot_k4(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  constexpr uint64_t kBytes = kFive ? 176 : 144;
  const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  // Shuffles that spread int16 scale j over all 16 int16 lanes.
  __m256i spread[8];
  for (int j = 0; j < 8; ++j) spread[j] = _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * j));
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * kBytes;
    const std::byte* qs = blk + (kFive ? 48 : 16);
    const Q8KBlock& xb = x[b];
    __m128i sm = scales_mins_k4(blk + 4);
    // msum = sum_j m_j * (bsums[2j] + bsums[2j + 1]).
    __m256i bsums = load256(xb.bsums);
    __m128i pair_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
    __m128i m = _mm_madd_epi16(mins, pair_sums);
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4e));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xb1));
    int32_t msum = _mm_cvtsi128_si32(m);
    __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));

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
      acc = add_scaled_dot(acc, lo, xb.qs + 64 * p, _mm256_shuffle_epi8(sc, spread[2 * p]));
      acc = add_scaled_dot(acc, hi, xb.qs + 64 * p + 32, _mm256_shuffle_epi8(sc, spread[2 * p + 1]));
    }
    __m128 dm = f16x2_at(blk);
    add_block(sum, _mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)), xb.d, sum_i32(acc), msum);
  }
  return sum;
}

// Q6_K: q - 32 with q in 0..63, so q . x - 32 * (sum of x) per 16
// elements, the sum of x being bsums (exact in int32 either way).
WM_AVX2 float dot_q6_k(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
  // Group g of a half: elements 0..15 (the low 128 bits) take that half's
  // int16 scale 2g, 16..31 scale 2g + 1.
  __m256i spread[4];
  for (int g = 0; g < 4; ++g)
    spread[g] = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (2 * g + 1))),
                                 _mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * 2 * g)));
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * 210;
    const Q8KBlock& xb = x[b];
    __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    // offset = sum_k sc[k] * bsums[k].
    __m256i off = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), load256(xb.bsums));
    __m256i acc = _mm256_setzero_si256();
    for (int n = 0; n < 2; ++n) {
      __m128i half_sc = n == 0 ? sc8 : _mm_unpackhi_epi64(sc8, sc8);  // scales 8n..8n+7 low
      __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(half_sc));
      __m256i ql[2] = {load256(blk + 64 * n), load256(blk + 64 * n + 32)};
      __m256i qh = load256(blk + 128 + 32 * n);
      for (int g = 0; g < 4; ++g) {
        __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql[g % 2], 4 * (g / 2)), low4);
        __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), two), 4);
        acc = add_scaled_dot(acc, _mm256_or_si256(lo, hi), xb.qs + 128 * n + 32 * g,
                             _mm256_shuffle_epi8(sc, spread[g]));
      }
    }
    float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<uint8_t>(blk[208]) |
                                                           (static_cast<uint8_t>(blk[209]) << 8))));
    add_block(sum, d, 0.0f, xb.d, sum_i32(acc) - 32 * sum_i32(off), 0);
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
