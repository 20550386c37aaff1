// Page-cache eviction on Windows: there is no call that drops one file's
// pages from the system cache (the closest, opening the file unbuffered,
// flushes only that handle's view; emptying the whole standby list needs
// SeProfileSingleProcessPrivilege and hits every process). Both calls say
// kUnsupported (Capability::kPageCacheEviction), and callers log what they
// skip. What weightmap does instead: a mapped load leaves the pages to the
// system, and copy loads can read with FILE_FLAG_NO_BUFFERING (--io direct)
// so they never fill the cache.
#include "io/page_cache.h"

namespace wm {

Status evict_range(const File& file, uint64_t offset, uint64_t) {
  return Error{file.path(), {}, offset,
               "Windows has no call to drop one file from the system cache; read it with --io direct "
               "(FILE_FLAG_NO_BUFFERING) so it is not cached",
               ErrorCode::kUnsupported};
}

Status evict_file(const File& file) { return evict_range(file, 0, 0); }

// The sequential-scan hint is a flag at open (FILE_FLAG_SEQUENTIAL_SCAN),
// not advice on an open handle.
Status advise_sequential(const File& file) {
  return Error{file.path(), {}, {},
               "Windows takes the sequential-scan hint only when a file is opened, not on an open handle",
               ErrorCode::kUnsupported};
}

}  // namespace wm
