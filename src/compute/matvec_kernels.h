// The per-level kernels behind matvec_rows (internal to compute/). Each lives
// in its own file whose functions carry their target attributes.
//
// One arithmetic for every level and dtype (the determinism contract of
// matvec.h): a row's products go to 32 float lanes, element j to lane
// j % 32, each lane adding its products in ascending j, every product
// rounded to float before it is added (never a fused multiply-add); then
// sum_lanes folds the lanes in a fixed order. The levels differ only in how
// many lanes one instruction does, so y is bit-identical across levels and
// across dtypes (a weight decoded to F32 is the F32 kernel's input). The
// K-quants have their own kernels and arithmetic: kquant_kernels.h.
#pragma once

#include <cstdint>

#include "compute/matvec.h"

namespace wm::kernels {

constexpr int kLanes = 32;

// Folds the 32 lanes in place: lane k += lane k + 16, then k + 8, ... 1.
// REQUIRES: a holds kLanes floats.
inline float sum_lanes(float* a) {
  for (int half = kLanes / 2; half >= 1; half /= 2)
    for (int k = 0; k < half; ++k) a[k] = a[k] + a[k + half];
  return a[0];
}

// lanes[k] += w[k] * x[k] for k < n <= kLanes, the product rounded first.
// Two statements: a compiler contracts a * b + c within one expression
// when allowed to (clang's default), never across statements.
inline void add_products(float* lanes, const float* w, const float* x, int n) {
  for (int k = 0; k < n; ++k) {
    float p = w[k] * x[k];
    lanes[k] += p;
  }
}

void matvec_rows_portable(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);
void matvec_rows_avx2(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);
void matvec_rows_avx512(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);
void matvec_rows_neon(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);

}  // namespace wm::kernels
