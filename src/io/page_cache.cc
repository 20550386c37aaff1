#include "io/page_cache.h"

#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>

namespace wm {

Status evict_range(const File& file, uint64_t offset, uint64_t len) {
  int rc = ::posix_fadvise(file.fd(), static_cast<off_t>(offset), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
  if (rc != 0)
    return Error{file.path(), {}, offset, fmt::format("posix_fadvise(POSIX_FADV_DONTNEED) failed: {}", std::strerror(rc))};
  return {};
}

Status evict_file(const File& file) { return evict_range(file, 0, 0); }

Status advise_sequential(const File& file) {
  int rc = ::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  if (rc != 0)
    return Error{file.path(), {}, {}, fmt::format("posix_fadvise(POSIX_FADV_SEQUENTIAL) failed: {}", std::strerror(rc))};
  return {};
}

}  // namespace wm
