// y = W x for a row-major weight matrix read in place (a mapped file, a host
// buffer), for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and
// Q6_K, at a chosen SIMD level.
//
// Determinism contract (the compute pass checksum depends on it): every
// level and every dtype but the K-quants computes y[r] with one arithmetic
// (matvec_kernels.h: 32 float lanes, element j in lane j % 32, rounded
// products added in ascending j, a fixed fold of the lanes), after decoding
// the weights to F32 exactly as dtype/ converts them. So a tensor loaded as
// F16 and the same tensor converted to F32 at load give bit-identical y, and
// so do the portable, AVX2 and AVX-512 kernels.
// The K-quants (Q4_K, Q5_K, Q6_K) take x quantised to Q8_K, as ggml's CPU
// backend does (kquant_kernels.h): exact integer dot products per block,
// then the block scales in float in one fixed order. Decoding each weight
// to float first was compute-bound at about a fifth of memory speed; this
// runs near it. Their y is bit-identical across levels too, but differs
// from the same matrix converted to F32 by the rounding of x (at most
// sum |w| * max|x| / 254 per 256-element block).
// Each y[r] is computed by one thread from row r and x alone (x is quantised
// once per call, before rows are split), so y does not depend on how rows
// are split across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "compute/cpu_features.h"
#include "compute/matrix_view.h"
#include "dtype/dtype.h"

namespace wm {

class WorkerPool;

// Whether there is a kernel for `dtype`.
bool matvec_supports(DType dtype);

// y[r] = sum_k W[r][k] * x[k] for r in [row_begin, row_end); other y untouched.
// REQUIRES: matvec_supports(w.dtype); simd_level_supported(level); w.cols a
// whole number of blocks; x holds w.cols floats, y at least row_end.
void matvec_rows(SimdLevel level, const MatrixView& w, const float* x, float* y, uint64_t row_begin,
                 uint64_t row_end);

// All rows, split across `pool`'s threads (the caller's thread only when
// `pool` is null or the matrix is small).
void matvec(SimdLevel level, const MatrixView& w, const float* x, float* y, WorkerPool* pool);

// matvec over a mapped matrix, every thread's rows under a SIGBUS guard
// (io/sigbus_guard.h): returns nullptr, or an address of w whose page could
// not be read (the file was truncated under the mapping; y is then garbage).
const std::byte* matvec_guarded(SimdLevel level, const MatrixView& w, const float* x, float* y, WorkerPool* pool);

}  // namespace wm
