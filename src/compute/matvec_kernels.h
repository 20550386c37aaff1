// The per-level kernels behind matvec_rows (internal to compute/). Each lives
// in its own file whose functions carry their target attributes.
#pragma once

#include <cstdint>

#include "compute/matvec.h"

namespace wm::kernels {

void matvec_rows_portable(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);
void matvec_rows_avx2(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);
void matvec_rows_avx512(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);

}  // namespace wm::kernels
