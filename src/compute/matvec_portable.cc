// Portable kernel: plain C++ for any CPU. Eight float lanes (element j goes
// to lane j % 8, added in ascending j), then a fixed pairwise sum of the
// lanes. Weights are decoded 32 at a time into F32 and accumulated the same
// way for every dtype. The build uses ISO C++ mode (no -ffp-contract=fast),
// so multiply and add are never fused differently between dtypes.
#include "compute/matvec_kernels.h"
#include "compute/weight_decode.h"

namespace wm::kernels {
namespace {

constexpr int kLanes = 8;
constexpr uint64_t kChunk = 32;

inline void accumulate(float* acc, const float* w, const float* x, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) acc[i % kLanes] += w[i] * x[i];
}

inline float sum_lanes(const float* a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); }

float dot_row(DType dtype, const std::byte* row, const float* x, uint64_t cols) {
  float acc[kLanes] = {};
  float w[kChunk];
  for (uint64_t j = 0; j < cols; j += kChunk) {
    uint64_t n = cols - j < kChunk ? cols - j : kChunk;
    switch (dtype) {
      case DType::Q8_0: decode_q8_0_block(row + j / kQuantBlockElems * kQ8_0BlockBytes, w); break;
      case DType::Q4_0: decode_q4_0_block(row + j / kQuantBlockElems * kQ4_0BlockBytes, w); break;
      default:
        for (uint64_t i = 0; i < n; ++i) w[i] = decode_float_elem(dtype, row, j + i);
    }
    accumulate(acc, w, x + j, n);
  }
  return sum_lanes(acc);
}

}  // namespace

void matvec_rows_portable(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  uint64_t row_bytes = w.row_bytes();
  for (uint64_t r = row_begin; r < row_end; ++r) y[r] = dot_row(w.dtype, w.data + r * row_bytes, x, w.cols);
}

}  // namespace wm::kernels
