// DirectFile on POSIX: O_DIRECT where the OS has it (Linux, the BSDs),
// F_NOCACHE on macOS (no alignment rule there; the block size is used so
// the neutral read path works the same). Alignment from statx on Linux.
#include "io/direct_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace wm {

namespace {

// Opens `path` so that reads bypass the page cache.
int open_uncached(const std::string& path) {
#if defined(O_DIRECT)
  return ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
#elif defined(F_NOCACHE)
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && ::fcntl(fd, F_NOCACHE, 1) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
#else
  (void)path;
  errno = ENOTSUP;
  return -1;
#endif
}

}  // namespace

Result<DirectFile> DirectFile::open(const File& file) {
  int fd = open_uncached(file.path());
  if (fd < 0) {
    int err = errno;
    return Error{file.path(), {}, {}, fmt::format("cannot open with O_DIRECT: {}", std::strerror(err)),
                 err == ENOTSUP ? ErrorCode::kUnsupported : ErrorCode::kIo};
  }
  uint32_t offset_align = 0, memory_align = 0;
  const char* source = "statx";
#if defined(__linux__) && defined(STATX_DIOALIGN)
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
    offset_align = stx.stx_dio_offset_align;
    memory_align = stx.stx_dio_mem_align;
  }
#endif
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
  return DirectFile(file, NativeHandle{fd}, offset_align, memory_align, source);
}

DirectFile::DirectFile(DirectFile&& other) noexcept
    : path_(std::move(other.path_)), size_(other.size_), handle_(other.handle_), offset_align_(other.offset_align_),
      memory_align_(other.memory_align_), align_source_(other.align_source_) {
  other.handle_ = {};
}

DirectFile& DirectFile::operator=(DirectFile&& other) noexcept {
  if (this != &other) {
    if (handle_.valid()) ::close(static_cast<int>(handle_.value));
    path_ = std::move(other.path_);
    size_ = other.size_;
    handle_ = other.handle_;
    offset_align_ = other.offset_align_;
    memory_align_ = other.memory_align_;
    align_source_ = other.align_source_;
    other.handle_ = {};
  }
  return *this;
}

DirectFile::~DirectFile() {
  if (handle_.valid()) ::close(static_cast<int>(handle_.value));
}

}  // namespace wm
