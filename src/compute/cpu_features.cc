#include "compute/cpu_features.h"

#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <fmt/format.h>

namespace wm {

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kPortable: return "portable";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

std::optional<SimdLevel> simd_level_from_name(std::string_view name) {
  for (SimdLevel l : {SimdLevel::kPortable, SimdLevel::kAvx2, SimdLevel::kAvx512})
    if (name == simd_level_name(l)) return l;
  return std::nullopt;
}

#if defined(__x86_64__) || defined(__i386__)
namespace {
// CPUID leaf 1, ECX bit 29. (clang 14's __builtin_cpu_supports does not
// know "f16c", and the fuzz targets build with clang.)
bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
}  // namespace
#endif

bool simd_level_supported(SimdLevel level) {
  switch (level) {
    case SimdLevel::kPortable: return true;
#if defined(__x86_64__) || defined(__i386__)
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case SimdLevel::kAvx512:
      return simd_level_supported(SimdLevel::kAvx2) && __builtin_cpu_supports("avx512f");
#else
    case SimdLevel::kAvx2:
    case SimdLevel::kAvx512: return false;
#endif
  }
  return false;
}

SimdLevel best_simd_level() {
  for (SimdLevel l : {SimdLevel::kAvx512, SimdLevel::kAvx2})
    if (simd_level_supported(l)) return l;
  return SimdLevel::kPortable;
}

Result<SimdLevel> simd_level_from_env(const Logger& log) {
  const char* env = std::getenv("WEIGHTMAP_SIMD");
  if (env == nullptr || *env == '\0') {
    SimdLevel best = best_simd_level();
    log.debug(fmt::format("compute: SIMD level {} (best this CPU supports)", simd_level_name(best)));
    return best;
  }
  auto level = simd_level_from_name(env);
  if (!level)
    return Error{{}, {}, {}, fmt::format("WEIGHTMAP_SIMD='{}': unknown level (expected portable, avx2 or avx512)", env)};
  if (!simd_level_supported(*level))
    return Error{{}, {}, {}, fmt::format("WEIGHTMAP_SIMD='{}': this CPU does not support it (best here: {})", env,
                                         simd_level_name(best_simd_level()))};
  log.debug(fmt::format("compute: SIMD level {} (from WEIGHTMAP_SIMD)", simd_level_name(*level)));
  return *level;
}

}  // namespace wm
