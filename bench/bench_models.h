// Synthetic models shaped like real ones, for the benchmarks: the tensor
// layouts (names, dtypes, shapes in file order) of a llama-style LLM, the
// Stable Diffusion 1.5 UNet, VAE and CLIP text encoder, and a Q4_K_M-style
// quantised LLM. Bytes are a deterministic pattern of small finite values
// (finite block scales too), so every kernel runs on realistic data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "dtype/dtype.h"

namespace wm::bench {

struct BenchTensor {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;  // outermost first
};

struct BenchModel {
  std::string kind;      // as named in bench_model_kinds()
  std::string format;    // "gguf" or "safetensors": what the real models ship as
  std::vector<BenchTensor> tensors;
};

// "llama-f16", "sd-unet-f16", "sd-vae-f16", "clip-f16", "llama-q4k".
const std::vector<std::string>& bench_model_kinds();

// The layout of `kind`; no tensors for an unknown kind.
BenchModel bench_model(std::string_view kind);

// Writes `model` to `path` in its format.
Status write_bench_model(const BenchModel& model, const std::string& path);

uint64_t bench_model_bytes(const BenchModel& model);

}  // namespace wm::bench
