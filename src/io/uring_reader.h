// Asynchronous reads with several in flight: a range is split into pieces
// and up to `depth` of them are queued at once, so one thread keeps the
// device's queue full (pread keeps one read in flight per thread). Linux:
// io_uring; Windows: overlapped ReadFile; elsewhere create() fails with
// ErrorCode::kUnsupported (Capability::kAsyncIo). One reader per thread:
// a ring is not shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/error.h"
#include "io/native_handle.h"

namespace wm {

class UringReader {
 public:
  // Fails (with the reason, for the caller to log before falling back to
  // pread) where io_uring is unavailable or disabled, or the OS has none.
  static Result<UringReader> create(unsigned depth = 4, uint64_t piece_bytes = 1ull << 20);

  UringReader(UringReader&&) noexcept;
  UringReader& operator=(UringReader&&) noexcept;
  ~UringReader();

  unsigned depth() const { return depth_; }
  uint64_t piece_bytes() const { return piece_; }

  // Reads exactly dst.size() bytes of `file` at `offset` (`path` names it in
  // errors). Short reads are continued, EINTR/EAGAIN retried; end of file
  // before dst is full is an error. With a direct (DirectFile) handle,
  // offset, dst and piece_bytes must be aligned as it requires.
  Status read(NativeHandle file, const std::string& path, uint64_t offset, std::span<std::byte> dst);

 private:
  struct Ring;  // the platform's queue (io_uring; overlapped I/O state on Windows)
  UringReader(std::unique_ptr<Ring> ring, unsigned depth, uint64_t piece);
  std::unique_ptr<Ring> ring_;
  bool broken_ = false;  // a failed submit left entries in the ring: no more reads
  unsigned depth_ = 4;
  uint64_t piece_ = 1ull << 20;
};

}  // namespace wm
