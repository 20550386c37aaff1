// A Python communicator as a wm::Collective, for open(..., collective=):
// any object with mpi4py's lowercase methods, allgather(bytes) -> list of
// bytes (one per rank) and alltoall(list of bytes) -> list of bytes (what
// each rank sent here), so an mpi4py communicator works as it is.
#pragma once

#include <memory>

#include <nanobind/nanobind.h>

#include <weightmap/collective.hpp>

namespace wmpy {

// Calls into `comm` take the GIL (wm::open runs without it); an exception
// it raises fails the load on this rank with the exception's text.
std::shared_ptr<wm::Collective> py_collective(nanobind::object comm, uint32_t rank, uint32_t world);

}  // namespace wmpy
