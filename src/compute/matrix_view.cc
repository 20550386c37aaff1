#include "compute/matrix_view.h"

namespace wm {

uint64_t MatrixView::row_bytes() const {
  const DTypeInfo& info = dtype_info(dtype);
  return cols / info.block_elems * info.block_bytes;
}

MatrixView MatrixView::from_shape(DType dtype, const std::byte* data, std::span<const uint64_t> shape) {
  MatrixView m;
  m.dtype = dtype;
  m.data = data;
  m.cols = shape.empty() ? 1 : shape.back();
  size_t first_col_dim = shape.empty() ? 0 : shape.size() - 1;  // dims [first_col_dim, end) make cols
  bool mergeable = m.cols % dtype_info(dtype).block_elems == 0;
  while (mergeable && first_col_dim > 1 && m.cols > 0 && m.cols < kMinCols &&
         shape[first_col_dim - 1] <= kMaxCols / m.cols) {
    --first_col_dim;
    m.cols *= shape[first_col_dim];
  }
  m.rows = 1;
  for (size_t d = 0; d < first_col_dim; ++d) m.rows *= shape[d];
  return m;
}

}  // namespace wm
