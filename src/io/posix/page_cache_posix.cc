// Page-cache eviction and descriptor read-ahead on POSIX: posix_fadvise
// (Linux, the BSDs). macOS has no posix_fadvise: both say kUnsupported
// there (Capability::kPageCacheEviction), and callers log what they skip.
#include "io/page_cache.h"

#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>

namespace wm {

#if defined(POSIX_FADV_DONTNEED)

namespace {
int fd_of(const File& file) { return static_cast<int>(file.native_handle().value); }
}  // namespace

Status evict_range(const File& file, uint64_t offset, uint64_t len) {
  int rc = ::posix_fadvise(fd_of(file), static_cast<off_t>(offset), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
  if (rc != 0)
    return Error{file.path(), {}, offset, fmt::format("posix_fadvise(POSIX_FADV_DONTNEED) failed: {}", std::strerror(rc))};
  return {};
}

Status advise_sequential(const File& file) {
  int rc = ::posix_fadvise(fd_of(file), 0, 0, POSIX_FADV_SEQUENTIAL);
  if (rc != 0)
    return Error{file.path(), {}, {}, fmt::format("posix_fadvise(POSIX_FADV_SEQUENTIAL) failed: {}", std::strerror(rc))};
  return {};
}

#else

Status evict_range(const File& file, uint64_t offset, uint64_t) {
  return Error{file.path(), {}, offset, "this OS has no posix_fadvise: the page cache cannot be told to drop a file",
               ErrorCode::kUnsupported};
}

Status advise_sequential(const File& file) {
  return Error{file.path(), {}, {}, "this OS has no posix_fadvise(POSIX_FADV_SEQUENTIAL)", ErrorCode::kUnsupported};
}

#endif

Status evict_file(const File& file) { return evict_range(file, 0, 0); }

}  // namespace wm
