// Synthetic models shaped like real ones, for the benchmarks: the tensor
// layouts (names, dtypes, shapes in file order) of a llama-style LLM, the
// Stable Diffusion 1.5 UNet, VAE and CLIP text encoder, and Q4_K_M-style
// quantised LLMs laid out by llama.cpp's Q4_K_M rules. Bytes are a deterministic pattern of small finite values
// (finite block scales too), so every kernel runs on realistic data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "dtype/dtype.h"
#include "format/gguf_writer.h"
#include "format/tensor_data.h"

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
  int vocab = 0;   // GGUF only: tokenizer metadata of this many tokens, as real files carry
  int merges = 0;  // and this many BPE merges
};

// "llama-f16", "sd-unet-f16", "sd-vae-f16", "clip-f16", "llama-q4k" (TinyLlama
// geometry, 0.67 GB), "llama3-q4km" (Llama-3-8B geometry, 18 of its 32 layers:
// about 3 GB, a 128k-token vocabulary).
const std::vector<std::string>& bench_model_kinds();

// The layout of `kind`; no tensors for an unknown kind.
BenchModel bench_model(std::string_view kind);

// Tokenizer metadata: `vocab` tokens (with scores and types) and `merges` BPE merges.
void add_vocab(GgufWriter& w, int vocab, int merges);

// Small finite values: every byte <= 0x3f, so any two bytes read as an F16
// (a value, a block scale) are a positive finite half below 2.
TensorData pattern(uint64_t seed);

// Writes `model` to `path` in its format.
Status write_bench_model(const BenchModel& model, const std::string& path);

uint64_t bench_model_bytes(const BenchModel& model);

}  // namespace wm::bench
