// Converts any model weightmap reads (GGUF, safetensors, shards, diffusers
// folders, PyTorch checkpoints) into one GGUF or safetensors file, or
// safetensors shards with a `model.safetensors.index.json`, as
// stable-diffusion.cpp's `-M convert` and llama.cpp's converters do.
//
// Tensor bytes are read through TensorSource (the one way to read a tensor
// as a dtype) and stream through one staging buffer of at most
// `staging_bytes` into writers whose headers were written first, so memory
// stays bounded whatever the size of the model or of one tensor. Every
// output file is written atomically; on failure none is left behind.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "dtype/dtype.h"
#include "weightmap/options.hpp"

namespace wm {

enum class ConvertFormat { kGguf, kSafetensors };
const char* convert_format_name(ConvertFormat f);  // "gguf", "safetensors"
std::optional<ConvertFormat> convert_format_from_name(std::string_view name);

struct ConvertOptions {
  // Else chosen by the output's name: *.gguf, *.safetensors,
  // *.safetensors.index.json (always sharded), or a folder (safetensors).
  std::optional<ConvertFormat> format;
  // "PATTERN=DTYPE,..." or "DTYPE", as `load --type`: the dtype each tensor
  // is written in; tensors no rule matches keep theirs.
  std::string type_rules;
  // safetensors: a new shard starts before one would pass this many bytes
  // (0: one file, unless the output name asks for an index).
  uint64_t shard_bytes = 0;
  // The one buffer tensor bytes stream through (read and converted).
  uint64_t staging_bytes = 64ull << 20;
  IoMode io = IoMode::kRead;
  std::string variant;  // diffusers folders: weight variant to prefer
  Logger log;
  std::function<void(uint64_t done_bytes, uint64_t total_bytes)> progress;
};

struct ConvertedTensor {
  std::string name;  // as written (a folder component's prefix included)
  DType from = DType::F32, to = DType::F32;
  std::vector<uint64_t> shape;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint32_t file = 0;  // index into ConvertReport::files
};

struct ConvertReport {
  ConvertFormat format = ConvertFormat::kSafetensors;
  std::vector<std::string> files;  // the tensor files written, in order
  std::string index;               // the shard index written, or empty
  std::vector<ConvertedTensor> tensors;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t staging_bytes = 0;      // the staging buffer's size
  size_t metadata_kept = 0;        // keys written
  std::vector<std::string> not_kept;  // what the target could not hold, one line each
  double ms = 0;
};

// Writes `inputs` (read as one model) to `out`. Refuses to overwrite any
// input file, a dtype the target format lacks, and a conversion no codec
// does, naming the tensor, before any byte is written.
Result<ConvertReport> convert_model(const std::vector<std::string>& inputs, const std::string& out,
                                    const ConvertOptions& options);

}  // namespace wm
