// Portable kernel: plain C++ for any CPU, the lane schedule of
// matvec_kernels.h (32 lanes, rounded products, fixed fold). Weights are
// decoded a chunk at a time into F32 (a whole block for quantised types) and
// accumulated the same way for every dtype.
#include "compute/matvec_kernels.h"
#include "compute/weight_decode.h"

namespace wm::kernels {
namespace {

constexpr uint64_t kChunk = 32;

float dot_row(DType dtype, const std::byte* row, const float* x, uint64_t cols) {
  alignas(64) float lanes[kLanes] = {};
  float w[kChunk];
  for (uint64_t j = 0; j < cols; j += kChunk) {
    uint64_t n = cols - j < kChunk ? cols - j : kChunk;
    switch (dtype) {
      case DType::Q8_0: decode_q8_0_block(row + j / kQuantBlockElems * kQ8_0BlockBytes, w); break;
      case DType::Q4_0: decode_q4_0_block(row + j / kQuantBlockElems * kQ4_0BlockBytes, w); break;
      default:
        for (uint64_t i = 0; i < n; ++i) w[i] = decode_float_elem(dtype, row, j + i);
    }
    add_products(lanes, w, x + j, static_cast<int>(n));  // j % 32 == 0: element j + i goes to lane i
  }
  return sum_lanes(lanes);
}

}  // namespace

void matvec_rows_portable(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  uint64_t row_bytes = w.row_bytes();
  for (uint64_t r = row_begin; r < row_end; ++r) y[r] = dot_row(w.dtype, w.data + r * row_bytes, x, w.cols);
}

}  // namespace wm::kernels
