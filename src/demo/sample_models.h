// The sample model set `weightmap demo` runs on: a GGUF "text encoder"
// (Q8_0/F16/F32) and a safetensors "transformer" (BF16/F16/F32), a few
// hundred MB together, with deterministic contents so that checksums are
// the same on every machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"

namespace wm {

// Bumped whenever the generated contents change.
inline constexpr int kSampleModelsVersion = 1;

struct SampleModelPaths {
  std::string text_encoder;  // GGUF
  std::string transformer;   // safetensors
  std::vector<std::string> all() const { return {text_encoder, transformer}; }
};

struct SampleModelOptions {
  // Multiplies the layer count; 1 gives ~100 MB + ~200 MB. Tests use 0 for a
  // tiny set (one layer each, a few hundred KB).
  int scale = 1;
};

// Writes the set into `dir` (created if needed) unless an up-to-date copy is
// already there. `reused` tells which happened.
Result<SampleModelPaths> ensure_sample_models(const std::string& dir, const SampleModelOptions& options,
                                             const Logger& log, bool* reused = nullptr);

// Deterministic value in [-1, 1) for element `i` of a stream seeded by `seed`.
float sample_value(uint64_t seed, uint64_t i);

}  // namespace wm
