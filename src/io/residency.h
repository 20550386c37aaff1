// How much of a file is in the page cache right now (io/memory.h's
// resident_pages: mincore, QueryWorkingSetEx on Windows; touches no page,
// so it changes nothing). Over a temporary mapping of the whole file,
// or over a range of a mapping the caller already holds (no second mmap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/file.h"

namespace wm {

struct Residency {
  uint64_t resident_bytes = 0;
  uint64_t file_bytes = 0;  // bytes looked at (the file, or the range)
  double fraction() const { return file_bytes ? static_cast<double>(resident_bytes) / file_bytes : 1.0; }
};

// `exact` walks every page (about 50 ms per GB on these machines); otherwise
// sampled_residency() below estimates it in well under a millisecond.
Result<Residency> page_cache_residency(const File& file, bool exact = true);

// Exact residency of several files together, each opened afresh; a file
// that cannot be opened or measured counts neither bytes nor size.
Residency files_residency(const std::vector<std::string>& paths);

// Residency of [addr, addr + len) inside a mapping the caller holds.
Result<Residency> mapped_residency(const std::byte* addr, uint64_t len);

// A cheap estimate: mincore over `samples` evenly spaced windows of 16
// pages (so a 3 GB file costs ~256 short calls, not a walk of 800k pages).
// Ranges smaller than the samples would cover are measured exactly.
Result<Residency> sampled_residency(const std::byte* addr, uint64_t len, unsigned samples = 256);

// The parts of [addr, addr + len) not in the page cache, as offsets from
// addr (page-rounded, clipped to the range), merged and in order.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t len = 0;
};
Result<std::vector<ByteRange>> missing_ranges(const std::byte* addr, uint64_t len);

}  // namespace wm
