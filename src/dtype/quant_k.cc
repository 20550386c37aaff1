// The K-quants (256-element super-blocks): Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K,
// and the ternary TQ1_0 TQ2_0 of the same super-block size. Layouts and
// arithmetic follow ggml's block_q*_K structs, dequantize_row_* and
// quantize_row_*_ref operation for operation, so results are bit-identical.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "dtype/block_codec.h"
#include "dtype/k_scales.h"
#include "dtype/quant_common.h"

namespace wm {
namespace {

using quant::i8;
using quant::load_f16;
using quant::nearest_int;
using quant::scale_min_k4;  // dtype/k_scales.h, shared with the compute kernels
using quant::store_f16;
using quant::u8;

constexpr int kQK = 256;
// ggml's GROUP_MAX_EPS: below this a group counts as all zero.
constexpr float kGroupMaxEps = 1e-15f;

// ---- Q2_K: scales[16] (low nibble scale, high nibble min) | qs[64] | d | dmin.
// Element e: byte 32 * (e / 128) + e % 32, bits 2 * ((e % 128) / 32); sub-block e / 16.
void dequantize_q2_k(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 84, y += kQK) {
    const std::byte* scales = src;
    const std::byte* qs = src + 16;
    const float d = load_f16(src + 80), min = load_f16(src + 82);
    for (int e = 0; e < kQK; ++e) {
      const uint8_t sc = u8(scales + e / 16);
      const float dl = d * static_cast<float>(sc & 0xf), ml = min * static_cast<float>(sc >> 4);
      const int q = (u8(qs + 32 * (e / 128) + e % 32) >> (2 * ((e % 128) / 32))) & 3;
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

// ---- Q3_K: hmask[32] | qs[64] | scales[12] (16 six-bit scales) | d.
// Low two bits as Q2_K; the high bit of element e is bit (e / 32) of
// hmask[e % 32], and a clear bit subtracts 4.
int q3_k_scale(const std::byte* s, int j) {
  const int low = j < 8 ? (u8(s + j) & 0xf) : (u8(s + j - 8) >> 4);
  const int high = (u8(s + 8 + j % 4) >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void dequantize_q3_k(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 110, y += kQK) {
    const std::byte* hmask = src;
    const std::byte* qs = src + 32;
    const std::byte* scales = src + 96;
    const float d_all = load_f16(src + 108);
    for (int e = 0; e < kQK; ++e) {
      const float dl = d_all * static_cast<float>(q3_k_scale(scales, e / 16));
      const int low = (u8(qs + 32 * (e / 128) + e % 32) >> (2 * ((e % 128) / 32))) & 3;
      const bool high = (u8(hmask + e % 32) >> (e / 32)) & 1;
      y[e] = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

// ---- Q4_K / Q5_K: d | dmin | scales[12] (8 six-bit scales and mins) | ...
// The inverse of scale_min_k4 for all eight sub-blocks.
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, std::byte* out) {
  uint8_t s[12] = {};
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
  std::memcpy(out, s, 12);
}

// Q4_K: ... | qs[128]: element e is nibble (e / 32) % 2 of byte 32 * (e / 64) + e % 32.
void dequantize_q4_k(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 144, y += kQK) {
    const float d = load_f16(src), min = load_f16(src + 2);
    const std::byte* qs = src + 16;
    for (int j = 0; j < 8; ++j) {  // sub-blocks of 32
      uint8_t sc, m;
      scale_min_k4(j, src + 4, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        const int q = (u8(qs + 32 * (j / 2) + l) >> (4 * (j % 2))) & 0xf;
        y[32 * j + l] = d1 * static_cast<float>(q) - m1;
      }
    }
  }
}

// Q5_K: ... | qh[32] | qs[128]: the low four bits as Q4_K, the fifth is bit j of qh[l].
void dequantize_q5_k(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 176, y += kQK) {
    const float d = load_f16(src), min = load_f16(src + 2);
    const std::byte* qh = src + 16;
    const std::byte* qs = src + 48;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      scale_min_k4(j, src + 4, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        const int low = (u8(qs + 32 * (j / 2) + l) >> (4 * (j % 2))) & 0xf;
        const int high = (u8(qh + l) >> j) & 1;
        y[32 * j + l] = d1 * static_cast<float>(low + 16 * high) - m1;
      }
    }
  }
}

// ---- Q6_K: ql[128] | qh[64] | scales[16] (int8) | d.
// In each half h (128 elements), element h * 128 + 32 * k + l takes nibble
// k / 2 of ql[64 h + l + 32 (k % 2)] and bits 2k of qh[32 h + l].
void dequantize_q6_k(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 210, y += kQK) {
    const std::byte* ql = src;
    const std::byte* qh = src + 128;
    const std::byte* sc = src + 192;
    const float d = load_f16(src + 208);
    for (int e = 0; e < kQK; ++e) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int low = (u8(ql + 64 * h + l + 32 * (k % 2)) >> (4 * (k / 2))) & 0xf;
      const int high = (u8(qh + 32 * h + l) >> (2 * k)) & 3;
      const int q = (low | (high << 4)) - 32;
      y[e] = d * static_cast<float>(i8(sc + e / 16)) * static_cast<float>(q);
    }
  }
}

// ---- Q8_K: d (f32) | qs[256] (int8) | bsums[16] (int16, sums of 16 qs).
void dequantize_q8_k(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 292, y += kQK) {
    float d;
    std::memcpy(&d, src, 4);
    for (int e = 0; e < kQK; ++e) y[e] = d * static_cast<float>(i8(src + 4 + e));
  }
}

void quantize_q8_k(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 292) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK; ++j)
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    if (amax == 0) {
      std::memset(dst, 0, 292);
      continue;
    }
    // The value of largest magnitude maps to -127 (MIN(127) catches the other end).
    const float iscale = -127.f / max;
    int8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    const float d = 1 / iscale;
    std::memcpy(dst, &d, 4);
    std::memcpy(dst + 4, q, kQK);
    for (int g = 0; g < 16; ++g) {
      int16_t sum = 0;
      for (int l = 0; l < 16; ++l) sum = static_cast<int16_t>(sum + q[16 * g + l]);
      std::memcpy(dst + 260 + 2 * g, &sum, 2);
    }
  }
}

// ---- ggml's make_qkx2_quants: scale and min (returned as -min in *the_min)
// of n values with levels 0..nmax, searching nstep + 1 candidate scales
// around nmax / (max - min) for the least weighted error.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const auto lf = static_cast<float>(l);
      sum_l += w * lf;
      sum_l2 += w * lf * lf;
      sum_xl += w * lf * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Q4_K and Q5_K share their reference quantiser but for the levels (nmax
// 15 or 31) and the scale search (rmin, rdelta, nstep); L gets the levels.
void quantize_k_scale_min(const float* x, std::byte* head, uint8_t* L, int nmax, float rmin, float rdelta,
                          int nstep) {
  float mins[8], scales[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xb = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xb[l] * xb[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xb[l]);
    scales[j] = make_qkx2_quants(32, nmax, xb, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    // ggml truncates to uint8_t before the MIN; kept for bit-identical bytes.
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  pack_scale_min_k4(ls, lm, head + 4);
  const float d = store_f16(head, max_scale / 63.f);
  const float dmin = store_f16(head + 2, max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    scale_min_k4(j, head + 4, &sc, &m);
    const float dl = d * static_cast<float>(sc);
    if (dl == 0) continue;  // keeps make_qkx2_quants' levels, as ggml does
    const float dm = dmin * static_cast<float>(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / dl);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

void quantize_q4_k(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 144) {
    uint8_t L[kQK];
    quantize_k_scale_min(x, dst, L, 15, -1.f, 0.1f, 20);
    std::byte* q = dst + 16;
    for (int j = 0; j < kQK; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = static_cast<std::byte>(L[j + l] | (L[j + l + 32] << 4));
  }
}

void quantize_q5_k(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 176) {
    uint8_t L[kQK];
    quantize_k_scale_min(x, dst, L, 31, -0.5f, 0.1f, 15);
    uint8_t qh[32] = {};
    std::byte* ql = dst + 48;
    for (int n = 0, g = 0; n < kQK; n += 64, ql += 32, ++g) {
      const auto m1 = static_cast<uint8_t>(1 << (2 * g)), m2 = static_cast<uint8_t>(2 << (2 * g));
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j], l2 = L[n + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = static_cast<std::byte>(l1 | (l2 << 4));
      }
    }
    std::memcpy(dst + 16, qh, 32);
  }
}

// ggml's make_qx_quants with rmse_type 1 and no importance weights (the
// weight of x is x^2): signed levels -nmax..nmax-1 (stored + nmax), the
// scale refined over 18 candidates around -nmax / max.
float make_qx_quants_rmse1(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  const auto level = [&](float iscale, int i) {
    return std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = level(iscale, i);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const auto lf = static_cast<float>(l);
    sumlx += w * x[i] * lf;
    suml2 += w * lf * lf;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const auto lf = static_cast<float>(level(iscale, i));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * lf;
      suml2 += w * lf * lf;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + level(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void quantize_q6_k(const float* x, std::byte* dst, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, x += kQK, dst += 210) {
    int8_t L[kQK];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      scales[ib] = make_qx_quants_rmse1(16, 32, x + 16 * ib, L + 16 * ib);
      const float abs_scale = std::fabs(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(dst, 0, 210);
      continue;
    }
    const float iscale = -128.f / max_scale;
    const float d = store_f16(dst + 208, 1 / iscale);
    int8_t sc[16];
    for (int ib = 0; ib < 16; ++ib) sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    std::memcpy(dst + 192, sc, 16);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(sc[j]);
      if (dl == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / dl);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    std::byte* ql = dst;
    std::byte* qh = dst + 128;
    for (int j = 0; j < kQK; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const auto q = [&](int k) { return static_cast<uint8_t>(L[j + l + 32 * k]); };
        ql[l] = static_cast<std::byte>((q(0) & 0xf) | ((q(2) & 0xf) << 4));
        ql[l + 32] = static_cast<std::byte>((q(1) & 0xf) | ((q(3) & 0xf) << 4));
        qh[l] = static_cast<std::byte>((q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6));
      }
    }
  }
}

// ---- TQ1_0: qs[48] (five trits per byte) | qh[4] (four per byte) | d.
// A byte holds trits as a fixed-point fraction of 3^5: multiplying by 3^n
// (mod 256) brings trit n to the top, and (q * 3) >> 8 reads it.
void dequantize_tq1_0(const std::byte* src, float* y, uint64_t nblocks) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto trit = [](uint8_t byte, int n) {
    const auto q = static_cast<uint8_t>(byte * kPow3[n]);
    return static_cast<int>((static_cast<uint16_t>(q) * 3) >> 8) - 1;
  };
  for (uint64_t b = 0; b < nblocks; ++b, src += 54) {
    const float d = load_f16(src + 52);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(trit(u8(src + m), n)) * d;
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) *y++ = static_cast<float>(trit(u8(src + 32 + m), n)) * d;
    for (int n = 0; n < 4; ++n)
      for (int j = 0; j < 4; ++j) *y++ = static_cast<float>(trit(u8(src + 48 + j), n)) * d;
  }
}

// ---- TQ2_0: qs[64] (four 2-bit values per byte, value q - 1) | d.
void dequantize_tq2_0(const std::byte* src, float* y, uint64_t nblocks) {
  for (uint64_t b = 0; b < nblocks; ++b, src += 66) {
    const float d = load_f16(src + 64);
    for (int j = 0; j < 64; j += 32)
      for (int l = 0; l < 4; ++l)
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((u8(src + j + m) >> (2 * l)) & 3) - 1) * d;
  }
}

}  // namespace

const BlockCodec kCodecQ2_K{dequantize_q2_k, nullptr};
const BlockCodec kCodecQ3_K{dequantize_q3_k, nullptr};
const BlockCodec kCodecQ4_K{dequantize_q4_k, quantize_q4_k};
const BlockCodec kCodecQ5_K{dequantize_q5_k, quantize_q5_k};
const BlockCodec kCodecQ6_K{dequantize_q6_k, quantize_q6_k};
const BlockCodec kCodecQ8_K{dequantize_q8_k, quantize_q8_k};
const BlockCodec kCodecTQ1_0{dequantize_tq1_0, nullptr};
const BlockCodec kCodecTQ2_0{dequantize_tq2_0, nullptr};

}  // namespace wm
