// The collective operations a tensor-parallel load uses to talk to the
// other ranks (ShardOptions::collective): to agree that every rank is ready
// or name the one that failed, to choose between the shared and exchange
// modes, and in the exchange mode to pass file bytes between ranks.
//
// weightmap links no MPI or NCCL: the engine hands in its own communicator
// through this interface. weightmap/mpi_collective.hpp (adapters/mpi/ in the
// source tree; CMake target weightmap::mpi_collective) is one over an MPI
// communicator, header-only: the engine, which links MPI already, compiles it. One over
// torch.distributed or NCCL is as short.
//
// Contract: every rank of the load calls the same operations, in the same
// order, from the thread that called wm::open; each call returns once this
// rank's part is done. A failed call returns an Error (the load then fails
// on that rank; the communicator's own error handling, e.g. MPI's, decides
// what the others see). Implementations need not be thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weightmap/error.hpp"

namespace wm {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual uint32_t rank() const = 0;
  virtual uint32_t world() const = 0;
  // Every rank gives `bytes` bytes at `mine`; `all` (world() * bytes) receives
  // them in rank order, this rank's included.
  virtual Status allgather(const void* mine, size_t bytes, void* all) = 0;
  // Personalised all-to-all: send_counts[j] bytes from send + send_offsets[j]
  // go to rank j, which receives them at its recv + recv_offsets[this rank].
  // Each vector has world() entries; every count is below 2^31 (MPI's int).
  virtual Status alltoallv(const void* send, const std::vector<uint64_t>& send_counts,
                           const std::vector<uint64_t>& send_offsets, void* recv,
                           const std::vector<uint64_t>& recv_counts, const std::vector<uint64_t>& recv_offsets) = 0;
};

}  // namespace wm
