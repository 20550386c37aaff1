// The system page size, read once: mappings, mincore and prefetch chunks
// all work in whole pages.
#pragma once

#include <cstdint>
#include <unistd.h>

namespace wm {

inline uint64_t page_size() {
  static const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return kPage;
}

}  // namespace wm
