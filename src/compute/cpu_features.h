// Which SIMD instruction sets the compute kernels may use, found at run time
// (one binary runs on any x86-64; no global -march). The kernels for a level
// live in their own files with per-function target attributes; a build
// holds the levels of its architecture only (cmake/ArchSources.cmake picks
// the files, simd_levels_<arch>.cc lists them).
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "common/error.h"
#include "common/log.h"

namespace wm {

enum class SimdLevel {
  kPortable,  // plain C++, any CPU
  kAvx2,      // AVX2 + FMA + F16C
  kAvx512,    // AVX-512 F
  kNeon,      // AArch64 Advanced SIMD (baseline on every arm64 CPU)
};

// Every level, built here or not, portable first.
std::span<const SimdLevel> all_simd_levels();
const char* simd_level_name(SimdLevel level);  // "portable", "avx2", "avx512", "neon"
std::optional<SimdLevel> simd_level_from_name(std::string_view name);

// Whether this build has kernels of `level` (those of its architecture).
bool simd_level_built(SimdLevel level);
// Whether this CPU (and this build) can run kernels of `level`.
bool simd_level_supported(SimdLevel level);
// The best level this CPU supports.
SimdLevel best_simd_level();

// The level to use: `WEIGHTMAP_SIMD` (portable|avx2|avx512|neon) when set, else
// the best supported one. An unknown name or a level this CPU lacks is an
// error (never a silent fallback); the choice is logged at debug level.
Result<SimdLevel> simd_level_from_env(const Logger& log = {});

}  // namespace wm
