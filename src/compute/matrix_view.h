// How the compute kernels see a tensor: as a row-major matrix, rows x cols.
// MatrixView::from_shape is the one place that decides the view; the pass,
// its tests' reference and the benchmarks all go through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dtype/dtype.h"

namespace wm {

struct MatrixView {
  DType dtype = DType::F32;
  const std::byte* data = nullptr;
  uint64_t rows = 0;
  uint64_t cols = 0;

  // Bytes of one row. REQUIRES: cols is a whole number of dtype blocks.
  uint64_t row_bytes() const;

  // The view engines use (shapes are outermost first). cols starts as the
  // last dimension; while it is shorter than kMinCols, the next dimension
  // inward is merged into it, but never the first (it stays the output
  // dimension) and never beyond kMaxCols (x must stay small). So:
  //   conv [out, in, kh, kw]      -> out x in*kh*kw   (what a LoRA term uses)
  //   experts [e, rows, cols>=256] -> e*rows x cols    (x stays one row long)
  //   matrix [rows, cols]          -> rows x cols
  // Short rows cost a kernel's scalar tail each; long rows run full vectors.
  // A block dtype's blocks run along the last dimension, so merging keeps
  // rows whole blocks only when that dimension is a multiple of the block
  // size: otherwise nothing is merged (and the shape is invalid anyway).
  static MatrixView from_shape(DType dtype, const std::byte* data, std::span<const uint64_t> shape);

  static constexpr uint64_t kMinCols = 256;
  static constexpr uint64_t kMaxCols = uint64_t{1} << 20;  // 4 MiB of F32 x
};

}  // namespace wm
