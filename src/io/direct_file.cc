#include "io/direct_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fault_injection.h"

namespace wm {

Result<DirectFile> DirectFile::open(const File& file) {
  int fd = ::open(file.path().c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return Error{file.path(), {}, {}, fmt::format("cannot open with O_DIRECT: {}", std::strerror(errno))};
  uint32_t offset_align = 0, memory_align = 0;
  const char* source = "statx";
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
    offset_align = stx.stx_dio_offset_align;
    memory_align = stx.stx_dio_mem_align;
  }
  if (offset_align == 0 || memory_align == 0) {
    // No STATX_DIOALIGN (kernel before 6.1, or the filesystem does not say):
    // the block size is a safe over-estimate.
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Error{file.path(), {}, {}, fmt::format("cannot stat: {}", std::strerror(err))};
    }
    offset_align = memory_align = static_cast<uint32_t>(std::max<long>(st.st_blksize, 512));
    source = "st_blksize";
  }
  if ((offset_align & (offset_align - 1)) || (memory_align & (memory_align - 1))) {
    ::close(fd);
    return Error{file.path(), {}, {},
                 fmt::format("O_DIRECT alignment is not a power of two (offset {}, memory {})", offset_align, memory_align)};
  }
  return DirectFile(file, fd, offset_align, memory_align, source);
}

DirectFile::DirectFile(DirectFile&& other) noexcept
    : path_(std::move(other.path_)), size_(other.size_), fd_(other.fd_), offset_align_(other.offset_align_),
      memory_align_(other.memory_align_), align_source_(other.align_source_) {
  other.fd_ = -1;
}

DirectFile& DirectFile::operator=(DirectFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    size_ = other.size_;
    fd_ = other.fd_;
    offset_align_ = other.offset_align_;
    memory_align_ = other.memory_align_;
    align_source_ = other.align_source_;
    other.fd_ = -1;
  }
  return *this;
}

DirectFile::~DirectFile() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t DirectFile::cover_bytes(uint64_t offset, uint64_t len) const {
  uint64_t a = offset_align_;
  uint64_t lo = offset / a * a, hi = (offset + len + a - 1) / a * a;
  return hi - lo;
}

Result<const std::byte*> DirectFile::read(uint64_t offset, uint64_t len, std::span<std::byte> bounce) const {
  const uint64_t a = offset_align_;
  const uint64_t lo = offset / a * a;
  const uint64_t cover = cover_bytes(offset, len);
  if (bounce.size() < cover || reinterpret_cast<uintptr_t>(bounce.data()) % memory_align_ != 0)
    return Error{path_, {}, offset, fmt::format("O_DIRECT bounce buffer too small or misaligned ({} bytes, {} needed)",
                                                bounce.size(), cover)};
  uint64_t done = 0;
  const uint64_t need = offset + len - lo;  // the cover may run past the end of the file: only this much must come
  // Errors name the first wanted byte not read, never one of the alignment
  // padding before `offset` (which may belong to another tensor).
  auto at = [&] { return std::max(offset, lo + done); };
  while (done < need) {
    ssize_t n = sys::pread(fd_, bounce.data() + done, cover - done, static_cast<off_t>(lo + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{path_, {}, at(), fmt::format("O_DIRECT read failed: {}", std::strerror(errno))};
    }
    if (n == 0)
      return Error{path_, {}, at(),
                   fmt::format("unexpected end of file (wanted {} more bytes; the file may have shrunk)", need - done)};
    done += static_cast<uint64_t>(n);
    // A short O_DIRECT read ends on an aligned boundary unless it hit EOF;
    // either way continuing from `done` keeps the offset aligned or fails.
    if (done % a != 0 && done < need)
      return Error{path_, {}, at(), "O_DIRECT read ended mid-block before the wanted bytes"};
  }
  return bounce.data() + (offset - lo);
}

}  // namespace wm
