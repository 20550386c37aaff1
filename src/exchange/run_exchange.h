// The exchange mode of a tensor-parallel load: every rank reads a disjoint
// 1/world of each model file, in rounds of ShardOptions::exchange_round_bytes,
// and the ranks pass each other (Collective::alltoallv) the bytes their
// slices need. Each rank writes what it needs into a staged copy of each
// file (io/staged_copy.h) at the file's own offsets, and the load then maps
// and reads the staged copies instead of the files: row slices stay zero
// copy (pointers into the staged copy), everything after this step is the
// ordinary load.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "format/tensor_table.h"
#include "io/file.h"
#include "weightmap/collective.hpp"
#include "weightmap/options.hpp"

namespace wm {

struct ExchangeResult {
  std::vector<std::shared_ptr<const File>> staged;  // per file of the table
  uint64_t read_bytes = 0;      // read by this rank from its files
  uint64_t sent_bytes = 0, received_bytes = 0;
  uint64_t staged_bytes = 0;    // written into the staged copies
  uint64_t rounds = 0;
  std::string staging_dir;
};

// Runs the exchange for `table` (cut by shard_table already) with every
// other rank of `c`. A failure on any rank (a read, a full staging folder)
// fails every rank, naming it.
Result<ExchangeResult> run_exchange(Collective& c, const TensorTable& table, const ShardOptions& options);

// After the load's copies: frees the staged pages that only gathered
// slices (columns, padded) were read from, which the load copied out and
// nothing reads again (LoRA, the one later reader of a tensor's source, is
// refused on slices). Returns the bytes freed. `table`'s files are the
// staged copies.
Result<uint64_t> release_gathered(const TensorTable& table);

// Each rank's part of [begin, end): world contiguous ranges, split at
// multiples of `align` (absolute offsets), the first from begin and the
// last to end. parts[k] is rank k's [first, second).
std::vector<std::pair<uint64_t, uint64_t>> rank_parts(uint64_t begin, uint64_t end, uint32_t world, uint64_t align);

}  // namespace wm
