// The step of a tensor-parallel load between cutting the table and
// planning it, when world > 1: the ranks agree that each is ready (or all
// fail naming the one that is not), choose the shared or exchange mode
// (exchange/mode_choice.h), and in the exchange mode fetch their bytes
// (exchange/run_exchange.h) and point the table's files at the staged
// copies. Without a collective every rank goes on alone (the shared mode).
#pragma once

#include <cstdint>

#include "common/error.h"
#include "common/log.h"
#include "format/tensor_table.h"
#include "weightmap/options.hpp"
#include "weightmap/report.hpp"

namespace wm {

// `ready`: whether this rank got this far (its error is passed on to the
// others). `signature`: model_signature() of the table before it was cut.
// Fills report's mode, mode_reason and exchange fields.
Status prepare_shard_ranks(TensorTable& table, uint64_t signature, const Status& ready, const ShardOptions& options,
                           ShardReport& report, const Logger& log);

}  // namespace wm
