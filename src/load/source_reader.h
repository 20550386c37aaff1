// How the copy path reads source bytes: buffered pread (the default),
// O_DIRECT into aligned bounce buffers (no page cache grows), or io_uring
// with several reads in flight per worker. A mode that cannot be had for
// a file (O_DIRECT refused, io_uring disabled) falls back to pread, and
// the fallback is logged with its reason.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "io/direct_file.h"
#include "io/file.h"
#include "io/uring_reader.h"
#include "weightmap/options.hpp"

namespace wm {

class SourceReader {
 public:
  // `wanted[f]`: file f has bytes to copy (only those get an O_DIRECT descriptor).
  SourceReader(IoMode mode, const std::vector<std::shared_ptr<const File>>& files, const std::vector<bool>& wanted,
               const Logger& log);

  IoMode mode() const { return mode_; }
  // Bytes a staging slot must keep free beyond a chunk for O_DIRECT's
  // alignment (0 unless some file reads direct).
  uint64_t bounce_overhead() const { return bounce_overhead_; }
  // Whether reads of file f land in a bounce buffer (O_DIRECT).
  bool bounces(uint32_t f) const { return f < direct_.size() && direct_[f].has_value(); }

  // Per-worker state: its io_uring ring.
  struct Worker {
    std::optional<UringReader> uring;
  };
  Worker make_worker();

  // Reads `len` bytes of file f at `offset`. Buffered and io_uring reads go
  // to `dst`; O_DIRECT reads to `bounce`. Returns where the bytes are.
  Result<const std::byte*> read(Worker& worker, uint32_t f, uint64_t offset, uint64_t len, std::byte* dst,
                                std::span<std::byte> bounce) const;

 private:
  IoMode mode_;
  const std::vector<std::shared_ptr<const File>>* files_;
  std::vector<std::optional<DirectFile>> direct_;
  uint64_t bounce_overhead_ = 0;
  Logger log_;
  bool uring_failed_ = false;
};

}  // namespace wm
