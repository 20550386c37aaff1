// --shard RANK/WORLD | auto and --split RULES: which rank of how many this
// process is (given, or read from the launcher's environment) and how each
// tensor is cut (wm::ShardOptions).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "weightmap/weightmap.hpp"

namespace wm::cli {

struct ShardChoice {
  bool active = false;  // --shard was given
  uint32_t rank = 0, world = 1;
  // Where rank and world came from: "--shard", or the launcher's rank
  // variable ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", "RANK").
  std::string source;
  std::string rules;  // --split as given (presets not expanded)
};

// An environment variable's value, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> process_env(const char* name);

// `shard` ("" for none, "R/W", or "auto") and `split` checked and resolved.
// With "auto" the first launcher pair set in `env` wins, innermost launcher
// first: RANK/WORLD_SIZE (torchrun, which may itself run under srun or
// mpirun), OMPI_COMM_WORLD_RANK/SIZE (Open MPI), PMI_RANK/SIZE (MPICH, Intel
// MPI), SLURM_PROCID/NTASKS (srun). --split is required when the world is
// above 1 (without it every tensor would be loaded whole on every rank).
Result<ShardChoice> shard_choice(const std::string& shard, const std::string& split,
                                 const EnvLookup& env = process_env);

// "rank 1 of 4 (from OMPI_COMM_WORLD_RANK)".
std::string shard_who(const ShardChoice& c);

// Every later "weightmap: error:" line starts "rank R of W: " (report_error),
// so that one failing rank among many names itself in a launcher's output.
void set_error_rank(const ShardChoice& c);
// "rank R of W: " once set_error_rank was called with an active choice, else "".
const std::string& error_rank_prefix();

}  // namespace wm::cli
