// The one way to get a tensor's bytes out of its file, as a given dtype,
// into a destination: whatever the source (a plain byte range read with
// pread, O_DIRECT or io_uring; a PyTorch strided view or deflated zip entry,
// load/source_transform.h) and whatever conversion (dtype/convert.h). The
// loader's copy path, LoRA removal, verify and tools all read through it.
//
// How pread-able bytes are read: buffered pread (the default), O_DIRECT into
// an aligned bounce buffer (no page cache grows), or io_uring with several
// reads in flight per worker. A mode that cannot be had for a file (O_DIRECT
// refused, io_uring disabled) falls back to pread, and the fallback is
// logged with its reason.
//
// Thread-safe: read() and read_all() may run concurrently, each thread with
// its own Worker. The table and files must outlive the source.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "dtype/dtype.h"
#include "format/tensor_table.h"
#include "io/direct_file.h"
#include "io/file.h"
#include "io/uring_reader.h"
#include "weightmap/options.hpp"

namespace wm {

class TensorSource {
 public:
  // files[f] is the open file of table.files()[f]. `io` is how pread-able bytes
  // are read; a mode that can't be had falls back to kRead, logged.
  // `wanted`, when not empty, says which files have bytes to read (only
  // those get an O_DIRECT descriptor).
  TensorSource(const TensorTable& table, std::vector<std::shared_ptr<const File>> files, IoMode io, const Logger& log,
               const std::vector<bool>& wanted = {});

  // Per-thread state: its io_uring ring, its buffer for source bytes, and
  // the time it spent reading and converting.
  class Worker {
   public:
    explicit Worker(std::optional<UringReader> uring = std::nullopt) : uring_(std::move(uring)) {}
    UringReader* uring() { return uring_ ? &*uring_ : nullptr; }
    // `n` bytes at an address aligned to `align` (a power of two), kept for reuse.
    std::span<std::byte> buffer(uint64_t n, uint64_t align);
    uint64_t read_ns() const { return read_ns_; }
    uint64_t convert_ns() const { return convert_ns_; }
    void add_read_ns(uint64_t ns) { read_ns_ += ns; }
    void add_convert_ns(uint64_t ns) { convert_ns_ += ns; }

   private:
    std::optional<UringReader> uring_;
    std::vector<std::byte> buffer_;
    uint64_t read_ns_ = 0, convert_ns_ = 0;
  };
  Worker make_worker() const;

  // How pread-able bytes are read (the mode asked for, or kRead after a fallback).
  IoMode mode() const { return mode_; }
  // Bytes a buffer must hold beyond a read's length for O_DIRECT's
  // alignment (0 unless some file reads direct).
  uint64_t bounce_overhead() const { return bounce_overhead_; }
  // Whether reads of file f land in a bounce buffer (O_DIRECT).
  bool bounces(uint32_t f) const { return f < direct_.size() && direct_[f].has_value(); }

  // Writes source blocks [first_block, first_block + n_blocks) of tensor `i`,
  // converted to `to` (REQUIRES can_convert(src dtype, to)), into `dst`
  // (exactly n_blocks * block_elems elements of `to`). `scratch`, when
  // conversion or O_DIRECT needs room for source bytes, is used if large
  // enough, else the worker's own buffer. Non-plain sources (PyTorch views,
  // deflated entries) accept only the whole tensor. Errors name the file, the
  // tensor and the offset; values out of range for `to` are an error.
  Status read(Worker& w, size_t i, DType to, uint64_t first_block, uint64_t n_blocks, std::span<std::byte> dst,
              std::span<std::byte> scratch = {}) const;

  // Source blocks of plain tensor `i` in their file's dtype, without a copy:
  // they land in `room` (at least their length plus bounce_overhead(), page
  // aligned for O_DIRECT) and the result says where.
  Result<const std::byte*> read_source(Worker& w, size_t i, uint64_t first_block, uint64_t n_blocks,
                                       std::span<std::byte> room) const;

  // The whole tensor as `to`, into a new buffer (for verify, LoRA removal, tools).
  Result<std::vector<std::byte>> read_all(size_t i, DType to) const;

 private:
  Error error_at(size_t i, uint64_t offset, std::string message) const;
  // Output bytes of a gathered slice (SourceLayout::Gather) from `at`.
  Status read_gathered(size_t i, uint64_t at, std::span<std::byte> dst) const;
  Status read_whole_transformed(Worker& w, size_t i, DType to, std::span<std::byte> dst,
                                std::span<std::byte> scratch) const;
  Status convert_into(Worker& w, size_t i, DType to, uint64_t offset, const std::byte* from, uint64_t elems,
                      std::span<std::byte> dst) const;

  const TensorTable* table_;
  std::vector<std::shared_ptr<const File>> files_;
  IoMode mode_;
  Logger log_;
  std::vector<std::optional<DirectFile>> direct_;  // per file, with IoMode::kDirect
  uint64_t bounce_overhead_ = 0;
  uint64_t memory_align_ = 1;  // of the worker's buffer: the strictest O_DIRECT memory alignment
  // io_uring refused once: later workers read with pread, without another warning.
  std::unique_ptr<std::atomic<bool>> uring_failed_ = std::make_unique<std::atomic<bool>>(false);
};

}  // namespace wm
