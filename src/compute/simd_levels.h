// The kernels of each SIMD level this build has (internal to compute/). One
// file per architecture defines these (simd_levels_x86_64.cc,
// simd_levels_aarch64.cc, simd_levels_generic.cc; cmake/ArchSources.cmake
// compiles the one that fits), so dispatch never names a kernel that this
// build lacks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "compute/cpu_features.h"
#include "compute/kquant_kernels.h"
#include "compute/matrix_view.h"

namespace wm::kernels {

struct LevelKernels {
  // The float and 32-element block types (matvec_kernels.h).
  void (*matvec_rows)(const MatrixView& w, const float* x, float* y, uint64_t row_begin, uint64_t row_end);
  // The K-quants against x as Q8_K (kquant_kernels.h).
  void (*kquant_rows)(const MatrixView& w, const Q8KBlock* x, float* y, uint64_t row_begin, uint64_t row_end);
  // The bandwidth probe's read: sums n bytes (n % 128 == 0) as 64-bit words (bandwidth_kernels.h).
  uint64_t (*read_sum)(const std::byte* p, uint64_t n);
};

// `level`'s kernels in this build, or nullptr when this build has none.
const LevelKernels* built_level_kernels(SimdLevel level);

// Whether this CPU runs `level`'s instructions. REQUIRES: built_level_kernels(level).
bool cpu_runs_level(SimdLevel level);

}  // namespace wm::kernels
