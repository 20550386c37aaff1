#include "compute/cpu_features.h"

#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compute/simd_levels.h"

namespace wm {

namespace {
constexpr SimdLevel kAllLevels[] = {SimdLevel::kPortable, SimdLevel::kAvx2, SimdLevel::kAvx512, SimdLevel::kNeon};
}  // namespace

std::span<const SimdLevel> all_simd_levels() { return kAllLevels; }

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kPortable: return "portable";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kNeon: return "neon";
  }
  return "?";
}

std::optional<SimdLevel> simd_level_from_name(std::string_view name) {
  for (SimdLevel l : kAllLevels)
    if (name == simd_level_name(l)) return l;
  return std::nullopt;
}

bool simd_level_built(SimdLevel level) { return kernels::built_level_kernels(level) != nullptr; }

bool simd_level_supported(SimdLevel level) { return simd_level_built(level) && kernels::cpu_runs_level(level); }

SimdLevel best_simd_level() {
  for (SimdLevel l : {SimdLevel::kAvx512, SimdLevel::kAvx2, SimdLevel::kNeon})
    if (simd_level_supported(l)) return l;
  return SimdLevel::kPortable;
}

namespace {
// "portable, avx2 or avx512": the levels this build has.
std::string built_level_names() {
  std::vector<const char*> names;
  for (SimdLevel l : kAllLevels)
    if (simd_level_built(l)) names.push_back(simd_level_name(l));
  std::string out = names[0];  // portable: always built
  for (size_t i = 1; i < names.size(); ++i) out += fmt::format("{}{}", i + 1 == names.size() ? " or " : ", ", names[i]);
  return out;
}
}  // namespace

Result<SimdLevel> simd_level_from_env(const Logger& log) {
  const char* env = std::getenv("WEIGHTMAP_SIMD");
  if (env == nullptr || *env == '\0') {
    SimdLevel best = best_simd_level();
    log.debug(fmt::format("compute: SIMD level {} (best this CPU supports)", simd_level_name(best)));
    return best;
  }
  auto level = simd_level_from_name(env);
  if (!level)
    return Error{{}, {}, {}, fmt::format("WEIGHTMAP_SIMD='{}': unknown level (expected {})", env, built_level_names())};
  if (!simd_level_built(*level))
    return Error{{}, {}, {}, fmt::format("WEIGHTMAP_SIMD='{}': this build has no {} kernels (built: {})", env, env,
                                         built_level_names())};
  if (!simd_level_supported(*level))
    return Error{{}, {}, {}, fmt::format("WEIGHTMAP_SIMD='{}': this CPU does not support it (best here: {})", env,
                                         simd_level_name(best_simd_level()))};
  log.debug(fmt::format("compute: SIMD level {} (from WEIGHTMAP_SIMD)", simd_level_name(*level)));
  return *level;
}

}  // namespace wm
