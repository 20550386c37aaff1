// The K-quant kernels (Q4_K, Q5_K, Q6_K) behind matvec_rows, internal to
// compute/. As ggml's CPU backend does (ggml_vec_dot_q4_K_q8_K and kin), x
// is first quantised to Q8_K (block_q8_K, by its codec in dtype/), once per
// matrix; each 256-element block then takes integer dot products of the
// weights' small integers with x's int8 values, exact in int32, and only the
// block's scales are applied in float. Decoding every weight to float first
// cost about five times the memory read time; this is what lets a K-quant
// matrix run near memory speed.
//
// Determinism: the integer sums are exact, whatever order a level adds them
// in, and every level turns them into y[r] with add_block below, blocks in
// row order. So the portable, AVX2 and NEON kernels give bit-identical y;
// AVX-512 runs the AVX2 kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/matrix_view.h"

namespace wm::kernels {

// ggml's block_q8_K: d, 256 int8 values (x[k] ~ d * qs[k]), and bsums[g],
// the sum of qs[16g..16g+15] (the minima and Q6_K's -32 offset use it).
struct Q8KBlock {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};
static_assert(sizeof(Q8KBlock) == 292, "the Q8_K block of the type table");

constexpr uint64_t kKBlockElems = 256;

bool is_kquant(DType dtype);

// x (cols floats, cols a multiple of 256) as Q8_K blocks, by the Q8_K codec.
std::vector<Q8KBlock> quantize_x_q8k(const float* x, uint64_t cols);

// sum += (d_w * d_x) * isum - (dmin_w * d_x) * msum, each product rounded
// (separate statements: no contraction), the one float combination of a
// block for every level. Q6_K has no minimum: dmin_w = 0, msum = 0.
inline void add_block(float& sum, float d_w, float dmin_w, float d_x, int32_t isum, int32_t msum) {
  float scale = d_w * d_x;
  float min_scale = dmin_w * d_x;
  float plus = scale * static_cast<float>(isum);
  float minus = min_scale * static_cast<float>(msum);
  float block = plus - minus;
  sum += block;
}

// y[r] = row r . x for r in [row_begin, row_end), x already quantised.
// REQUIRES: is_kquant(w.dtype); x holds w.cols / 256 blocks.
void kquant_rows_portable(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end);
void kquant_rows_avx2(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end);
void kquant_rows_neon(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end);

}  // namespace wm::kernels
