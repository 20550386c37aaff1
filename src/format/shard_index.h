// Sharded models: a `*.safetensors.index.json` (or transformers' sharded
// PyTorch checkpoint, `pytorch_model.bin.index.json`) whose `weight_map` names
// the shard holding each tensor. Opening it opens every shard as one model
// and checks the index and the shards agree exactly.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "format/metadata.h"
#include "format/tensor_table.h"

namespace wm {

inline constexpr uint64_t kIndexMaxBytes = 100'000'000;

struct ShardIndex {
  std::vector<std::string> shards;  // relative file names, in first-seen order
  // tensor name -> index into `shards`, in the index's order
  std::vector<std::pair<std::string, size_t>> weight_map;
  Metadata metadata;  // the index's "metadata" object, scalars as strings
};

// Parses the index JSON. Shard names must be relative paths that stay inside
// the index's folder. `file_name` is used in errors.
Result<ShardIndex> parse_safetensors_index(std::string_view json, const std::string& file_name);

// Reads the index at `path`, opens its shards (relative to its folder) and
// returns them as one table. Shards are safetensors files, or PyTorch
// checkpoints for transformers' `pytorch_model.bin.index.json` (same JSON).
// A tensor the index lists that is missing from its shard, a tensor found in
// a shard the index does not assign it to, or a tensor in two shards, is an
// error.
Result<TensorTable> open_shard_index(const std::string& path, const Logger& log);

}  // namespace wm
