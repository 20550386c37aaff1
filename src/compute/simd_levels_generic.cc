// Builds for an architecture without SIMD kernels here: portable only.
#include "compute/bandwidth_kernels.h"
#include "compute/matvec_kernels.h"
#include "compute/simd_levels.h"

namespace wm::kernels {
namespace {

constexpr LevelKernels kPortable{matvec_rows_portable, kquant_rows_portable, read_sum_portable};

}  // namespace

const LevelKernels* built_level_kernels(SimdLevel level) {
  return level == SimdLevel::kPortable ? &kPortable : nullptr;
}

bool cpu_runs_level(SimdLevel level) { return level == SimdLevel::kPortable; }

}  // namespace wm::kernels
