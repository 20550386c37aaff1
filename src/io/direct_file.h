// A second, unbuffered handle on a model file, for copy-path reads that must
// not fill the page cache: O_DIRECT on Linux and the BSDs, F_NOCACHE on
// macOS, FILE_FLAG_NO_BUFFERING on Windows. Direct reads need the file
// offset, the length and the buffer aligned: on Linux the alignment comes
// from statx(STATX_DIOALIGN) where the kernel and filesystem report it,
// else from st_blksize (Windows: the volume's sector size). A read fetches
// the aligned cover of the wanted range into a bounce buffer.
//
// Thread-safe: reads are at explicit offsets (pread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/error.h"
#include "io/file.h"

namespace wm {

class DirectFile {
 public:
  // Fails (with the reason, for the caller to log before reading buffered)
  // where the filesystem refuses O_DIRECT (tmpfs, some FUSE), or with
  // ErrorCode::kUnsupported where the OS has no direct reads.
  static Result<DirectFile> open(const File& file);

  DirectFile(DirectFile&& other) noexcept;
  DirectFile& operator=(DirectFile&& other) noexcept;
  DirectFile(const DirectFile&) = delete;
  DirectFile& operator=(const DirectFile&) = delete;
  ~DirectFile();

  uint32_t offset_align() const { return offset_align_; }
  uint32_t memory_align() const { return memory_align_; }
  // Where the alignment came from: "statx", "st_blksize", "sector size".
  const char* align_source() const { return align_source_; }
  NativeHandle native_handle() const { return handle_; }

  // Bytes of bounce buffer a read of [offset, offset + len) needs.
  uint64_t cover_bytes(uint64_t offset, uint64_t len) const;
  // Reads [offset, offset + len) into `bounce` (aligned to memory_align(),
  // at least cover_bytes() long); returns where offset's byte landed in it.
  Result<const std::byte*> read(uint64_t offset, uint64_t len, std::span<std::byte> bounce) const;

 private:
  DirectFile(const File& file, NativeHandle handle, uint32_t offset_align, uint32_t memory_align, const char* source)
      : path_(file.path()), size_(file.size()), handle_(handle), offset_align_(offset_align),
        memory_align_(memory_align), align_source_(source) {}
  std::string path_;
  uint64_t size_ = 0;
  NativeHandle handle_;
  uint32_t offset_align_ = 4096, memory_align_ = 4096;
  const char* align_source_ = "st_blksize";
};

}  // namespace wm
