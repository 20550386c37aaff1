// Shared or exchange: whether the ranks' files are one set of files under
// one running kernel (one page cache: each rank maps them and touches only
// its slices), or copies on different hosts or paths (each rank reads
// 1/world and they exchange). Also refuses ranks whose models differ.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "format/tensor_table.h"
#include "weightmap/collective.hpp"
#include "weightmap/options.hpp"

namespace wm {

// What identifies the model itself across copies: file sizes and tensor
// names, types, shapes and offsets (taken before the table is cut).
uint64_t model_signature(const TensorTable& table);

struct ModeChoice {
  ShardMode mode = ShardMode::kShared;
  std::string reason;
};

// Gathers every rank's host identity, file identities and `signature`;
// fails on every rank (naming the first that differs) when the ranks'
// models differ. `asked` kShared or kExchange is taken as it is.
Result<ModeChoice> choose_mode(Collective& c, const TensorTable& table, uint64_t signature, ShardMode asked);

}  // namespace wm
