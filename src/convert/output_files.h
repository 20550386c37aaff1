// Where a conversion writes: the format (from --format or the output's
// name) and the files, split into safetensors shards named as transformers
// names them (model-00001-of-00003.safetensors beside
// model.safetensors.index.json) when they would pass the shard size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "convert/convert_model.h"

namespace wm {

struct OutputFiles {
  ConvertFormat format = ConvertFormat::kSafetensors;
  std::vector<std::string> files;    // tensor files, in order
  std::vector<uint32_t> file_of;     // per tensor (in order): index into `files`
  std::string index;                 // the shard index to write, or empty
};

// `sizes`: each tensor's bytes as written, in order. Tensors keep their
// order; a shard takes tensors until the next would pass `shard_bytes` (a
// tensor larger than that gets a shard of its own).
Result<OutputFiles> plan_output_files(const std::string& out, std::optional<ConvertFormat> format,
                                      uint64_t shard_bytes, const std::vector<uint64_t>& sizes);

}  // namespace wm
