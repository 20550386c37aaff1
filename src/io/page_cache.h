// Dropping a file's pages from the page cache, through its handle.
// posix_fadvise(POSIX_FADV_DONTNEED) is what really drops them; unmapping
// (or MADV_DONTNEED) only removes this process's view of them. Pages still
// mapped or dirty elsewhere stay: the kernel never drops those. Where the
// OS has no such call (macOS, Windows) these fail with
// ErrorCode::kUnsupported (Capability::kPageCacheEviction).
#pragma once

#include <cstdint>

#include "common/error.h"
#include "io/file.h"

namespace wm {

// Drops [offset, offset + len) (len 0: to the end of the file). Only whole
// pages inside the range go.
Status evict_range(const File& file, uint64_t offset, uint64_t len);
Status evict_file(const File& file);

// POSIX_FADV_SEQUENTIAL: the kernel doubles read-ahead for the descriptor
// (ErrorCode::kUnsupported where the OS has no such advice).
Status advise_sequential(const File& file);

}  // namespace wm
