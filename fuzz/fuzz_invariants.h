// What must hold for any table a parser accepts, whatever the input. The
// fuzz targets abort on a violation (a finding); the regression test checks
// the same on every kept input.
#pragma once

#include <cstdint>
#include <string>

#include "format/shard_index.h"
#include "format/tensor_table.h"

namespace wm {

// Empty when the table is sound, else what is wrong.
std::string table_invariant_violation(const TensorTable& table, uint64_t file_size);
std::string index_invariant_violation(const ShardIndex& index);

}  // namespace wm
