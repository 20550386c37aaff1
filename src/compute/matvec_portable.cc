// Portable kernel: plain C++ for any CPU, the lane schedule of
// matvec_kernels.h (32 lanes, rounded products, fixed fold). Weights are
// decoded by their dtype's codec (dtype/block_codec.h, the one dequantiser
// of each type) 256 at a time into F32 and accumulated the same way for
// every dtype but the K-quants (kquant_portable.cc).
#include "compute/matvec_kernels.h"
#include "dtype/block_codec.h"

namespace wm::kernels {
namespace {

// Elements decoded at once: whole blocks of every type (the K-quants'
// super-blocks are the largest), a multiple of kLanes.
constexpr uint64_t kChunk = 256;

struct RowDecoder {
  DequantizeFn dequantize;
  uint64_t block_elems, block_bytes;
};

float dot_row(const RowDecoder& dec, const std::byte* row, const float* x, uint64_t cols) {
  alignas(64) float lanes[kLanes] = {};
  float w[kChunk];
  for (uint64_t j = 0; j < cols; j += kChunk) {
    uint64_t n = cols - j < kChunk ? cols - j : kChunk;  // quantised rows: whole blocks
    dec.dequantize(row + j / dec.block_elems * dec.block_bytes, w, n / dec.block_elems);
    for (uint64_t i = 0; i < n; i += kLanes)  // j % 32 == 0: element j + i + k goes to lane k
      add_products(lanes, w + i, x + j + i, static_cast<int>(n - i < kLanes ? n - i : kLanes));
  }
  return sum_lanes(lanes);
}

}  // namespace

void matvec_rows_portable(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end) {
  const DTypeInfo& info = dtype_info(w.dtype);
  RowDecoder dec{block_codec(w.dtype)->dequantize, info.block_elems, info.block_bytes};
  uint64_t row_bytes = w.row_bytes();
  for (uint64_t r = row_begin; r < row_end; ++r) y[r] = dot_row(dec, w.data + r * row_bytes, x, w.cols);
}

}  // namespace wm::kernels
