// Where one tensor's slice lies in its file: the rows or columns a rank
// takes (an even 1/world, a padded ceil(n/world), or a fixed range), cut on
// the dtype's block boundaries, as the table's new geometry.
#pragma once

#include <cstdint>

#include "common/error.h"
#include "format/tensor_table.h"
#include "shard/shard_rules.h"

namespace wm {

// REQUIRES: how.dim != kNone, world >= 1, rank < world. A row slice without
// padding stays one byte range (mappable); anything else is gathered. The
// error names the tensor and says why it cannot be cut this way.
Result<TensorTable::SliceGeometry> slice_geometry(const TensorInfo& t, const SplitHow& how, uint32_t rank,
                                                  uint32_t world);

}  // namespace wm
