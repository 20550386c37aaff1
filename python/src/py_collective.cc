#include "py_collective.h"

#include <cstring>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace wmpy {
namespace {

wm::Error failed(const std::string& what) {
  return wm::Error{{}, {}, {}, "the collective (open(..., collective=)): " + what, wm::ErrorCode::kIo};
}

// "RuntimeError: the network is down" (no traceback: the error is a line).
std::string raised(const nb::python_error& e) {
  return nb::cast<std::string>(e.type().attr("__name__")) + ": " + nb::cast<std::string>(nb::str(e.value()));
}

class PyCollective final : public wm::Collective {
 public:
  PyCollective(nb::object comm, uint32_t rank, uint32_t world) : comm_(std::move(comm)), rank_(rank), world_(world) {}
  ~PyCollective() override {
    if (!Py_IsInitialized()) {
      (void)comm_.release();  // the interpreter is gone: leak rather than touch it
      return;
    }
    nb::gil_scoped_acquire gil;
    comm_.reset();
  }
  uint32_t rank() const override { return rank_; }
  uint32_t world() const override { return world_; }

  wm::Status allgather(const void* mine, size_t bytes, void* all) override {
    nb::gil_scoped_acquire gil;
    try {
      nb::object got = comm_.attr("allgather")(nb::bytes(static_cast<const char*>(mine), bytes));
      if (nb::len(got) != world_)
        return failed("allgather returned " + std::to_string(nb::len(got)) + " items for " + std::to_string(world_) +
                      " ranks");
      for (uint32_t r = 0; r < world_; ++r) {
        nb::bytes b = nb::cast<nb::bytes>(got[r]);
        if (b.size() != bytes)
          return failed("allgather: rank " + std::to_string(r) + " gave " + std::to_string(b.size()) + " bytes, " +
                        std::to_string(bytes) + " expected");
        if (bytes) std::memcpy(static_cast<char*>(all) + r * bytes, b.c_str(), bytes);
      }
      return {};
    } catch (const nb::python_error& e) {
      return failed("allgather raised " + raised(e));
    } catch (const std::exception& e) {
      return failed(std::string("allgather: ") + e.what());
    }
  }

  wm::Status alltoallv(const void* send, const std::vector<uint64_t>& send_counts,
                       const std::vector<uint64_t>& send_offsets, void* recv, const std::vector<uint64_t>& recv_counts,
                       const std::vector<uint64_t>& recv_offsets) override {
    nb::gil_scoped_acquire gil;
    try {
      nb::list chunks;
      for (uint32_t j = 0; j < world_; ++j)
        chunks.append(nb::bytes(static_cast<const char*>(send) + send_offsets[j], send_counts[j]));
      nb::object got = comm_.attr("alltoall")(chunks);
      if (nb::len(got) != world_)
        return failed("alltoall returned " + std::to_string(nb::len(got)) + " items for " + std::to_string(world_) +
                      " ranks");
      for (uint32_t k = 0; k < world_; ++k) {
        nb::bytes b = nb::cast<nb::bytes>(got[k]);
        if (b.size() != recv_counts[k])
          return failed("alltoall: rank " + std::to_string(k) + " sent " + std::to_string(b.size()) + " bytes, " +
                        std::to_string(recv_counts[k]) + " expected");
        if (b.size()) std::memcpy(static_cast<char*>(recv) + recv_offsets[k], b.c_str(), b.size());
      }
      return {};
    } catch (const nb::python_error& e) {
      return failed("alltoall raised " + raised(e));
    } catch (const std::exception& e) {
      return failed(std::string("alltoall: ") + e.what());
    }
  }

 private:
  nb::object comm_;
  uint32_t rank_, world_;
};

}  // namespace

std::shared_ptr<wm::Collective> py_collective(nb::object comm, uint32_t rank, uint32_t world) {
  return std::make_shared<PyCollective>(std::move(comm), rank, world);
}

}  // namespace wmpy
