// The POSIX system calls behind io's seams (io/fault_injection.h) and the
// page size (io/page_size.h).
#include <cstdlib>
#include <unistd.h>

#include "io/fault_injection.h"
#include "io/page_size.h"

namespace wm {

uint64_t page_size() {
  static const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return kPage;
}

namespace sys {

int64_t native_pread(NativeHandle file, void* buf, size_t n, uint64_t offset) {
  return ::pread(static_cast<int>(file.value), buf, n, static_cast<off_t>(offset));
}

int64_t native_write(NativeHandle file, const void* buf, size_t n) {
  return ::write(static_cast<int>(file.value), buf, n);
}

void* native_aligned_alloc(size_t alignment, size_t bytes) { return std::aligned_alloc(alignment, bytes); }

void aligned_free(void* p) { std::free(p); }

}  // namespace sys
}  // namespace wm
