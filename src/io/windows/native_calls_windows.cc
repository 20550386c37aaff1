// The Windows calls behind io's seams (io/fault_injection.h) and the page
// size (io/page_size.h). Reads are positioned (an OVERLAPPED offset on a
// synchronous handle), so threads share no file position, as with pread.
#include <cerrno>
#include <malloc.h>

#include "io/fault_injection.h"
#include "io/page_size.h"
#include "io/windows/win32.h"

namespace wm {

uint64_t page_size() {
  static const uint64_t kPage = [] {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return static_cast<uint64_t>(si.dwPageSize);
  }();
  return kPage;
}

namespace sys {

int64_t native_pread(NativeHandle file, void* buf, size_t n, uint64_t offset) {
  OVERLAPPED ov{};
  ov.Offset = static_cast<DWORD>(offset);
  ov.OffsetHigh = static_cast<DWORD>(offset >> 32);
  // One call reads at most 4 GiB - 1; read_exact loops for the rest.
  DWORD want = n > 0x7fff'f000 ? 0x7fff'f000 : static_cast<DWORD>(n);
  DWORD got = 0;
  if (!ReadFile(win::handle_of(file), buf, want, &got, &ov)) {
    DWORD err = GetLastError();
    if (err == ERROR_HANDLE_EOF) return 0;  // at or past the end: as pread, 0 bytes
    errno = win::errno_of(err);
    return -1;
  }
  return got;
}

int64_t native_write(NativeHandle file, const void* buf, size_t n) {
  DWORD want = n > 0x7fff'f000 ? 0x7fff'f000 : static_cast<DWORD>(n);
  DWORD put = 0;
  if (!WriteFile(win::handle_of(file), buf, want, &put, nullptr)) {
    errno = win::errno_of(GetLastError());
    return -1;
  }
  return put;
}

// The C runtime (msvcrt) has no std::aligned_alloc: its own aligned heap.
void* native_aligned_alloc(size_t alignment, size_t bytes) { return _aligned_malloc(bytes, alignment); }

void aligned_free(void* p) { _aligned_free(p); }

}  // namespace sys
}  // namespace wm
