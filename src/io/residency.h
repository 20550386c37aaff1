// How much of a file is in the page cache right now (mincore over a
// temporary read-only mapping; touches no page, so it changes nothing).
#pragma once

#include <cstdint>

#include "common/error.h"
#include "io/file.h"

namespace wm {

struct Residency {
  uint64_t resident_bytes = 0;
  uint64_t file_bytes = 0;
  double fraction() const { return file_bytes ? static_cast<double>(resident_bytes) / file_bytes : 1.0; }
};

Result<Residency> page_cache_residency(const File& file);

}  // namespace wm
