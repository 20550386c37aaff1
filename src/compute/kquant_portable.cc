// Portable K-quant kernel: plain C++ integer dot products per block, in
// ggml's element order (the layouts of dtype/quant_k.cc), then add_block.
#include <cstring>

#include "compute/kquant_kernels.h"
#include "dtype/block_codec.h"
#include "dtype/half.h"
#include "dtype/k_scales.h"

namespace wm::kernels {
namespace {

inline float f16_at(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16_to_f32(v);
}
inline int u8_at(const std::byte* p) { return static_cast<uint8_t>(*p); }

// Q4_K (144 bytes): d, dmin, 12 scale bytes, qs[128]; element 32j + l of
// sub-block j is nibble j % 2 of qs[32 (j / 2) + l]. Q5_K (176 bytes) has
// qh[32] before qs: bit j of qh[l] is its fifth bit.
template <bool kFive>
float dot_k4(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  constexpr uint64_t kBytes = kFive ? 176 : 144;
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * kBytes;
    const std::byte* qh = blk + 16;
    const std::byte* qs = blk + (kFive ? 48 : 16);
    const Q8KBlock& xb = x[b];
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      quant::scale_min_k4(j, blk + 4, &sc, &m);
      int32_t dot = 0;
      for (int l = 0; l < 32; ++l) {
        int q = (u8_at(qs + 32 * (j / 2) + l) >> (4 * (j % 2))) & 0xf;
        if constexpr (kFive) q += 16 * ((u8_at(qh + l) >> j) & 1);
        dot += q * xb.qs[32 * j + l];
      }
      isum += sc * dot;
      msum += m * (xb.bsums[2 * j] + xb.bsums[2 * j + 1]);
    }
    add_block(sum, f16_at(blk), f16_at(blk + 2), xb.d, isum, msum);
  }
  return sum;
}

// Q6_K (210 bytes): ql[128], qh[64], int8 scales[16], d. Element 128n + 32g
// + l: low 4 bits nibble g / 2 of ql[64n + 32(g % 2) + l], top 2 bits
// (qh[32n + l] >> 2g) & 3, minus 32; scale sc[8n + 2g + l / 16].
float dot_q6_k(const std::byte* row, const Q8KBlock* x, uint64_t blocks) {
  float sum = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const std::byte* blk = row + b * 210;
    const Q8KBlock& xb = x[b];
    int32_t isum = 0;
    for (int n = 0; n < 2; ++n)
      for (int g = 0; g < 4; ++g)
        for (int h = 0; h < 2; ++h) {
          int32_t dot = 0;
          for (int l = 16 * h; l < 16 * h + 16; ++l) {
            int lo = (u8_at(blk + 64 * n + 32 * (g % 2) + l) >> (4 * (g / 2))) & 0xf;
            int hi = (u8_at(blk + 128 + 32 * n + l) >> (2 * g)) & 3;
            dot += ((lo | (hi << 4)) - 32) * xb.qs[128 * n + 32 * g + l];
          }
          isum += static_cast<int8_t>(blk[192 + 8 * n + 2 * g + h]) * dot;
        }
    add_block(sum, f16_at(blk + 208), 0.0f, xb.d, isum, 0);
  }
  return sum;
}

}  // namespace

bool is_kquant(DType dtype) { return dtype == DType::Q4_K || dtype == DType::Q5_K || dtype == DType::Q6_K; }

std::vector<Q8KBlock> quantize_x_q8k(const float* x, uint64_t cols) {
  std::vector<Q8KBlock> out(cols / kKBlockElems);
  kCodecQ8_K.quantize(x, reinterpret_cast<std::byte*>(out.data()), out.size());
  return out;
}

void kquant_rows_portable(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end) {
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
