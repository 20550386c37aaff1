// The platform-neutral part of DirectFile: the aligned cover of a range and
// the read loop. Opening with the cache bypassed is per platform
// (io/posix/direct_file_posix.cc).
#include "io/direct_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "io/fault_injection.h"

namespace wm {

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
    int64_t n = sys::pread(handle_, bounce.data() + done, cover - done, lo + done);
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
