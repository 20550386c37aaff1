// UringReader on Linux: io_uring (liburing).
#include "io/uring_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <liburing.h>
#include <optional>
#include <unistd.h>
#include <vector>

#include "io/fault_injection.h"
#include "io/read_pieces.h"

namespace wm {

struct UringReader::Ring {
  io_uring ring{};
  ~Ring() { io_uring_queue_exit(&ring); }
};

Result<UringReader> UringReader::create(unsigned depth, uint64_t piece_bytes) {
  depth = std::max(depth, 1u);
  auto ring = std::make_unique<Ring>();
  int rc = io_uring_queue_init(depth, &ring->ring, 0);
  if (rc < 0) {
    ring.release();  // never initialised: nothing to exit (and exiting it would be wrong)
    return Error{{}, {}, {}, fmt::format("io_uring_queue_init failed: {}", std::strerror(-rc))};
  }
  return UringReader(std::move(ring), depth, std::max<uint64_t>(piece_bytes, 4096));
}

UringReader::UringReader(std::unique_ptr<Ring> ring, unsigned depth, uint64_t piece)
    : ring_(std::move(ring)), depth_(depth), piece_(piece) {}
UringReader::UringReader(UringReader&&) noexcept = default;
UringReader& UringReader::operator=(UringReader&&) noexcept = default;
UringReader::~UringReader() = default;

Status UringReader::read(NativeHandle file, const std::string& path, uint64_t offset, std::span<std::byte> dst) {
  std::vector<ReadPiece> pieces = split_read(dst.size(), piece_);
  const int fd = static_cast<int>(file.value);
  io_uring* ring = &ring_->ring;
  if (broken_) return Error{path, {}, offset, "io_uring reader unusable after an earlier submit failure"};
  size_t next = 0, finished = 0;
  unsigned queued = 0;     // prepared, not yet taken by the kernel
  unsigned in_flight = 0;  // taken by the kernel, not yet completed
  std::vector<size_t> requeue;
  auto queue = [&](size_t k) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    ReadPiece& p = pieces[k];
    io_uring_prep_read(sqe, fd, dst.data() + p.start + p.done, static_cast<unsigned>(p.left()),
                       offset + p.start + p.done);
    io_uring_sqe_set_data64(sqe, k);
    ++queued;
  };
  // Waits out what the kernel holds: it still writes into dst.
  auto drain = [&] {
    while (in_flight > 0) {
      io_uring_cqe* c = nullptr;
      if (io_uring_wait_cqe(ring, &c) != 0) break;
      io_uring_cqe_seen(ring, c);
      --in_flight;
    }
  };
  int busy_retries = 0;
  while (finished < pieces.size()) {
    while (in_flight + queued < depth_ && !requeue.empty()) {
      queue(requeue.back());
      requeue.pop_back();
    }
    while (in_flight + queued < depth_ && next < pieces.size()) queue(next++);
    std::optional<int> injected = sys::uring_submit();
    int rc = injected ? *injected : io_uring_submit_and_wait(ring, 1);
    if (rc >= 0) {
      queued -= std::min<unsigned>(queued, static_cast<unsigned>(rc));
      in_flight += static_cast<unsigned>(rc);
      busy_retries = 0;
    } else if (rc == -EINTR) {
      continue;  // nothing was taken: submit again
    } else if ((rc == -EAGAIN || rc == -EBUSY) && ++busy_retries <= 100) {
      // The kernel is short of resources: let a completion free some (it is
      // handled below), or wait a little when none is due.
      io_uring_cqe* c = nullptr;
      if (in_flight == 0 || io_uring_wait_cqe(ring, &c) != 0) {
        usleep(1000);
        continue;
      }
    } else {
      drain();
      // Prepared entries the kernel never took stay in the ring, pointing
      // into dst: this ring must never submit again.
      if (queued > 0) broken_ = true;
      return Error{path, {}, offset, fmt::format("io_uring submit failed: {}", std::strerror(-rc))};
    }
    io_uring_cqe* cqe = nullptr;
    std::optional<Error> error;
    unsigned head = 0, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      --in_flight;
      size_t k = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
      auto step = finish_piece(file, pieces[k], cqe->res, path, offset, "io_uring read");
      if (!step) {
        if (!error) error = step.error();
      } else if (*step == PieceStep::kAgain) {
        requeue.push_back(k);
      } else {
        ++finished;
      }
    }
    io_uring_cq_advance(ring, seen);
    if (error) {
      drain();
      if (queued > 0) broken_ = true;  // as above
      return *error;
    }
  }
  return {};
}

}  // namespace wm
