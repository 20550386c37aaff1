// The cold bound on Linux: O_DIRECT reads, several in flight through io_uring.
#include "io/read_bandwidth.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <liburing.h>
#include <memory>
#include <unistd.h>
#include <vector>

namespace wm {

Result<ReadBandwidth> direct_read_bandwidth(const std::string& path, uint64_t block_bytes, unsigned depth) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return Error{path, {}, {}, fmt::format("cannot open with O_DIRECT: {}", std::strerror(errno))};
  std::unique_ptr<int, void (*)(int*)> fd_guard(&fd, [](int* f) { ::close(*f); });
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) return Error{path, {}, {}, fmt::format("cannot seek: {}", std::strerror(errno))};
  std::vector<std::unique_ptr<std::byte, void (*)(void*)>> buffers;
  for (unsigned i = 0; i < depth; ++i) {
    void* p = std::aligned_alloc(4096, block_bytes);
    if (!p) return Error{path, {}, {}, "out of memory for read buffers"};
    buffers.emplace_back(static_cast<std::byte*>(p), &std::free);
  }
  std::vector<unsigned> free_buffers;
  for (unsigned i = 0; i < depth; ++i) free_buffers.push_back(i);
  // The ring is torn down before the buffers (declared after them), so no
  // read in flight on an early return can land in freed memory.
  io_uring ring{};
  if (int rc = io_uring_queue_init(depth, &ring, 0); rc < 0)
    return Error{path, {}, {}, fmt::format("io_uring_queue_init failed: {}", std::strerror(-rc))};
  std::unique_ptr<io_uring, void (*)(io_uring*)> ring_guard(&ring, io_uring_queue_exit);

  auto start = std::chrono::steady_clock::now();
  uint64_t offset = 0, bytes = 0;
  unsigned in_flight = 0;
  const uint64_t end = static_cast<uint64_t>(size);
  while (offset < end || in_flight > 0) {
    while (in_flight < depth && offset < end) {
      unsigned b = free_buffers.back();
      free_buffers.pop_back();
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_read(sqe, fd, buffers[b].get(), static_cast<unsigned>(block_bytes), offset);
      io_uring_sqe_set_data64(sqe, b);
      offset += block_bytes;
      ++in_flight;
    }
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait(&ring, 1);
    if (rc < 0 && rc != -EINTR) return Error{path, {}, offset, fmt::format("io_uring failed: {}", std::strerror(-rc))};
    while (io_uring_peek_cqe(&ring, &cqe) == 0) {
      if (cqe->res < 0) return Error{path, {}, offset, fmt::format("O_DIRECT read failed: {}", std::strerror(-cqe->res))};
      bytes += static_cast<uint64_t>(cqe->res);
      free_buffers.push_back(static_cast<unsigned>(io_uring_cqe_get_data64(cqe)));
      io_uring_cqe_seen(&ring, cqe);
      --in_flight;
    }
  }
  ReadBandwidth bw;
  bw.bytes = bytes;
  bw.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return bw;
}

}  // namespace wm
