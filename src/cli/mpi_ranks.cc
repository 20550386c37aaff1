#include "cli/mpi_ranks.h"

#include <cstdlib>
#include <fmt/format.h>
#include <string>

#ifdef WM_WITH_MPI
#include "weightmap/mpi_collective.hpp"
#endif

namespace wm::cli {
namespace {

#ifdef WM_WITH_MPI
bool mpi_launched(const ShardChoice& c) {
  return c.active && c.world > 1 && (c.source == "OMPI_COMM_WORLD_RANK" || c.source == "PMI_RANK");
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}
#endif

}  // namespace

std::string mpi_unavailable_reason(const ShardChoice& c) {
#ifdef WM_WITH_MPI
  if (!mpi_launched(c))
    return fmt::format("rank and world come from {}, not from an MPI launcher (run under mpirun with --shard auto)",
                       c.source.empty() ? "nowhere" : c.source);
  if (const char* off = std::getenv("WEIGHTMAP_MPI"); off && (std::string(off) == "off" || std::string(off) == "0"))
    return "WEIGHTMAP_MPI=off";
  return "MPI is available";
#else
  (void)c;
  return "this weightmap was built without MPI (WM_MPI=OFF or no MPI found at build time)";
#endif
}

Result<std::shared_ptr<Collective>> mpi_ranks(const ShardChoice& c, const Logger& log) {
  if (!c.active || c.world < 2) return std::shared_ptr<Collective>();
#ifdef WM_WITH_MPI
  if (const char* off = std::getenv("WEIGHTMAP_MPI"); off && (std::string(off) == "off" || std::string(off) == "0")) {
    log.info("shard: no MPI: WEIGHTMAP_MPI=off (each rank loads alone)");
    return std::shared_ptr<Collective>();
  }
  if (!mpi_launched(c)) {
    log.info(fmt::format("shard: no MPI: {}", mpi_unavailable_reason(c)));
    return std::shared_ptr<Collective>();
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS)
      return Error{{}, {}, {}, "MPI_Init failed under an MPI launcher", ErrorCode::kIo};
    std::atexit(finalize_at_exit);
  }
  auto collective = std::make_shared<MpiCollective>(MPI_COMM_WORLD);
  if (collective->rank() != c.rank || collective->world() != c.world)
    return Error{{}, {}, {},
                 fmt::format("MPI says rank {} of {}, {} said rank {} of {}{}", collective->rank(),
                             collective->world(), c.source, c.rank, c.world,
                             collective->world() == 1
                                 ? " (MPI started alone: is this weightmap's MPI the launcher's? WEIGHTMAP_MPI=off "
                                   "loads without MPI)"
                                 : ""),
                 ErrorCode::kInvalidArgument};
  return std::shared_ptr<Collective>(std::move(collective));
#else
  log.info(fmt::format("shard: no MPI: {}", mpi_unavailable_reason(c)));
  return std::shared_ptr<Collective>();
#endif
}

}  // namespace wm::cli
