// The CLI's link to the other ranks: under mpirun (--shard auto read the
// rank from Open MPI's or MPICH's variables), MPI is initialised here and
// the ranks talk through wm::MpiCollective
// (adapters/mpi/include/weightmap/mpi_collective.hpp);
// MPI_Finalize runs at exit. Built without MPI (WM_MPI off), started by
// another launcher, or with WEIGHTMAP_MPI=off, there is no collective and
// each rank loads alone.
#pragma once

#include <memory>
#include <string>

#include "cli/shard_choice.h"
#include "common/log.h"
#include "weightmap/collective.hpp"

namespace wm::cli {

// The collective for `choice`, or null (logged at info with the reason).
Result<std::shared_ptr<Collective>> mpi_ranks(const ShardChoice& choice, const Logger& log);

// Why mpi_ranks gives none for `choice`.
std::string mpi_unavailable_reason(const ShardChoice& choice);

}  // namespace wm::cli
