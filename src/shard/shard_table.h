// Options::shard applied to a parsed model: every tensor a rule splits
// becomes this rank's slice of it (format/tensor_table.h, set_slice), before
// the plan, so everything after (mapping, copies, devices, the report) sees
// only the bytes this rank loads.
#pragma once

#include "common/error.h"
#include "format/tensor_table.h"
#include "weightmap/options.hpp"
#include "weightmap/report.hpp"

namespace wm {

// Fails naming the first tensor that cannot be cut as its rule says, or a
// bad rule, rank or world. world == 1 with no rules changes nothing.
Result<ShardReport> shard_table(TensorTable& table, const ShardOptions& options);

}  // namespace wm
