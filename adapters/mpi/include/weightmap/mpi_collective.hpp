// wm::Collective over an MPI communicator, header-only: weightmap itself
// links no MPI, the engine that includes this does (mpicxx, or
// find_package(MPI) and MPI::MPI_C). Kept out of include/weightmap, whose
// headers include only the standard library, and not installed: with
// add_subdirectory, link weightmap::mpi_collective; otherwise add
// adapters/mpi/include to the include path (or copy this file). The CLI
// uses it under mpirun. MPI must be initialised before use
// and finalised after the last wm::open that uses it.
//
//   wm::Options o;
//   o.shard.world = size; o.shard.rank = rank; o.shard.rules = "llama";
//   o.shard.collective = std::make_shared<wm::MpiCollective>(MPI_COMM_WORLD);
//   auto model = wm::open("model.gguf", o);
#pragma once

// MPI's C API only: no deprecated C++ bindings to link.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <climits>
#include <string>
#include <vector>

#include "weightmap/collective.hpp"

namespace wm {

class MpiCollective final : public Collective {
 public:
  explicit MpiCollective(MPI_Comm comm) : comm_(comm) {
    int r = 0, w = 1;
    MPI_Comm_rank(comm_, &r);
    MPI_Comm_size(comm_, &w);
    rank_ = static_cast<uint32_t>(r);
    world_ = static_cast<uint32_t>(w);
  }
  uint32_t rank() const override { return rank_; }
  uint32_t world() const override { return world_; }

  Status allgather(const void* mine, size_t bytes, void* all) override {
    if (bytes > static_cast<size_t>(INT_MAX)) return fail("allgather", "more than 2^31 bytes per rank");
    return check("MPI_Allgather", MPI_Allgather(mine, static_cast<int>(bytes), MPI_BYTE, all,
                                                static_cast<int>(bytes), MPI_BYTE, comm_));
  }

  Status alltoallv(const void* send, const std::vector<uint64_t>& send_counts,
                   const std::vector<uint64_t>& send_offsets, void* recv, const std::vector<uint64_t>& recv_counts,
                   const std::vector<uint64_t>& recv_offsets) override {
    std::vector<int> sc, sd, rc, rd;
    if (!to_int(send_counts, sc) || !to_int(send_offsets, sd) || !to_int(recv_counts, rc) ||
        !to_int(recv_offsets, rd))
      return fail("alltoallv", "a count or offset is 2^31 or more");
    return check("MPI_Alltoallv", MPI_Alltoallv(send, sc.data(), sd.data(), MPI_BYTE, recv, rc.data(), rd.data(),
                                                MPI_BYTE, comm_));
  }

 private:
  static bool to_int(const std::vector<uint64_t>& in, std::vector<int>& out) {
    out.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] > static_cast<uint64_t>(INT_MAX)) return false;
      out[i] = static_cast<int>(in[i]);
    }
    return true;
  }
  static Status fail(const char* what, const char* why) {
    return Error{{}, {}, {}, std::string("MPI ") + what + ": " + why, ErrorCode::kInvalidArgument};
  }
  static Status check(const char* call, int rc) {
    if (rc == MPI_SUCCESS) return {};
    char text[MPI_MAX_ERROR_STRING] = {};
    int n = 0;
    MPI_Error_string(rc, text, &n);
    return Error{{}, {}, {}, std::string(call) + " failed: " + std::string(text, static_cast<size_t>(n)),
                 ErrorCode::kIo};
  }

  MPI_Comm comm_;
  uint32_t rank_ = 0, world_ = 1;
};

}  // namespace wm
