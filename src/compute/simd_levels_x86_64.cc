// x86-64 builds: the portable, AVX2 and AVX-512 kernels, each level checked
// against the CPU at run time (CPUID; one binary runs on any x86-64).
#include <cpuid.h>

#include "compute/bandwidth_kernels.h"
#include "compute/matvec_kernels.h"
#include "compute/simd_levels.h"

namespace wm::kernels {
namespace {

// AVX-512 runs the AVX2 K-quant kernel (integer sums: the same bits) and
// the AVX2 read loop.
constexpr LevelKernels kPortable{matvec_rows_portable, kquant_rows_portable, read_sum_portable};
constexpr LevelKernels kAvx2{matvec_rows_avx2, kquant_rows_avx2, read_sum_avx2};
constexpr LevelKernels kAvx512{matvec_rows_avx512, kquant_rows_avx2, read_sum_avx2};

// CPUID leaf 1, ECX bit 29. (clang 14's __builtin_cpu_supports does not
// know "f16c", and the fuzz targets build with clang.)
bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}

}  // namespace

const LevelKernels* built_level_kernels(SimdLevel level) {
  switch (level) {
    case SimdLevel::kPortable: return &kPortable;
    case SimdLevel::kAvx2: return &kAvx2;
    case SimdLevel::kAvx512: return &kAvx512;
    case SimdLevel::kNeon: return nullptr;
  }
  return nullptr;
}

bool cpu_runs_level(SimdLevel level) {
  switch (level) {
    case SimdLevel::kPortable: return true;
    case SimdLevel::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case SimdLevel::kAvx512: return cpu_runs_level(SimdLevel::kAvx2) && __builtin_cpu_supports("avx512f");
    case SimdLevel::kNeon: return false;
  }
  return false;
}

}  // namespace wm::kernels
