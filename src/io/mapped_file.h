// A read-only shared memory mapping of a whole model file (mmap MAP_SHARED;
// Windows: CreateFileMapping + MapViewOfFile). The File (and so its handle)
// is kept for the mapping's life: eviction needs it later (posix_fadvise on
// the descriptor is what really drops the page cache).
//
// Thread-safe: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/error.h"
#include "io/file.h"
#include "io/mmap_limiter.h"

namespace wm {

class MappedFile {
 public:
  // Maps the whole file read-only, shared. Fails (with the reason, for the
  // caller to log before falling back to reads) on a zero-sized file, past
  // the process's mmap limits (io/mmap_limiter.h), or when the kernel
  // refuses the mapping.
  static Result<MappedFile> map(std::shared_ptr<const File> file);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const File& file() const { return *file_; }
  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  // REQUIRES: offset + len <= size().
  std::span<const std::byte> range(uint64_t offset, uint64_t len) const { return {data_ + offset, len}; }

  // Pins the mapping's pages in memory as they are faulted in or prefetched
  // (Linux: mlock2 MLOCK_ONFAULT, nothing is read now; other POSIX: mlock,
  // which reads the whole file now; Windows: VirtualLock). Fails with the
  // reason (RLIMIT_MEMLOCK, privileges) for the caller to log.
  Status lock_in_memory() const;

 private:
  MappedFile(std::shared_ptr<const File> file, std::byte* data, uint64_t size, MmapPermit permit)
      : file_(std::move(file)), data_(data), size_(size), permit_(std::move(permit)) {}
  void unmap();

  std::shared_ptr<const File> file_;
  std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  MmapPermit permit_;  // returned after the unmap, in the destructor
};

// A short-lived read-only view of a whole file, for a query that needs
// addresses (page-cache residency): it takes no MmapPermit, since it lives
// only for the query. The file must outlive it.
class MappedView {
 public:
  static Result<MappedView> map(const File& file);

  MappedView(MappedView&& other) noexcept : data_(other.data_), size_(other.size_) { other.data_ = nullptr; }
  MappedView& operator=(MappedView&&) = delete;
  MappedView(const MappedView&) = delete;
  MappedView& operator=(const MappedView&) = delete;
  ~MappedView();

  const std::byte* data() const { return data_; }

 private:
  MappedView(const std::byte* data, uint64_t size) : data_(data), size_(size) {}
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

// A byte range of a file mapped privately writable (copy-on-write): writes
// become anonymous pages charged to this range only, never to the file and
// never to the rest of the model. This is how LoRA patches tensors in place
// (MAP_PRIVATE; Windows: a FILE_MAP_COPY view). The mapping starts on a
// page boundary (Windows: allocation granularity) at or before `offset`;
// data() points at `offset` itself.
//
// Not thread-safe for concurrent writes to the same bytes.
class PrivateRange {
 public:
  static Result<PrivateRange> map(const File& file, uint64_t offset, uint64_t len);

  PrivateRange(PrivateRange&& other) noexcept;
  PrivateRange& operator=(PrivateRange&&) = delete;
  PrivateRange(const PrivateRange&) = delete;
  PrivateRange& operator=(const PrivateRange&) = delete;
  ~PrivateRange();

  std::byte* data() const { return data_; }
  uint64_t size() const { return len_; }
  // Drops every private copy: the range reads as the file's bytes again.
  Status revert();

 private:
  PrivateRange(void* base, uint64_t map_len, std::byte* data, uint64_t len, NativeHandle section = {},
               uint64_t view_offset = 0)
      : base_(base), map_len_(map_len), data_(data), len_(len), section_(section), view_offset_(view_offset) {}
  void* base_ = nullptr;
  uint64_t map_len_ = 0;
  std::byte* data_ = nullptr;
  uint64_t len_ = 0;
  NativeHandle section_;  // Windows: the file-mapping object of the view (revert remaps it); unused on POSIX
  [[maybe_unused]] uint64_t view_offset_ = 0;  // Windows: the view's file offset (revert maps it again there); unused on POSIX
};

}  // namespace wm
