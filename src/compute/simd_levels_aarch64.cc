// arm64 builds: the portable and NEON kernels. Advanced SIMD (with the
// half-precision conversions the F16 kernel uses) is part of the AArch64
// base architecture, so every arm64 CPU runs it: nothing to ask the OS.
#include "compute/bandwidth_kernels.h"
#include "compute/matvec_kernels.h"
#include "compute/simd_levels.h"

namespace wm::kernels {
namespace {

constexpr LevelKernels kPortable{matvec_rows_portable, kquant_rows_portable, read_sum_portable};
constexpr LevelKernels kNeon{matvec_rows_neon, kquant_rows_neon, read_sum_neon};

}  // namespace

const LevelKernels* built_level_kernels(SimdLevel level) {
  switch (level) {
    case SimdLevel::kPortable: return &kPortable;
    case SimdLevel::kNeon: return &kNeon;
    case SimdLevel::kAvx2:
    case SimdLevel::kAvx512: return nullptr;
  }
  return nullptr;
}

bool cpu_runs_level(SimdLevel level) { return level == SimdLevel::kPortable || level == SimdLevel::kNeon; }

}  // namespace wm::kernels
