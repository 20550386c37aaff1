// The hardware limits a load is judged against, measured in the same run:
// how fast warm memory can be read (the bound for a mapped, warm model), and
// how fast freshly allocated memory can be written (first touch of new pages;
// on small virtual machines it runs at a few GB/s and bounds every strategy
// that copies).
#pragma once

#include <cstddef>
#include <cstdint>

#include "compute/cpu_features.h"

namespace wm {

struct ReadBandwidthOptions {
  uint64_t bytes = 512ull << 20;  // buffer size: far beyond the caches
  unsigned threads = 2;
  int passes = 5;
  SimdLevel simd = best_simd_level();
};

// GB/s (1e9 bytes/s) reading a warm buffer with `threads` threads, the best
// of `passes` passes (after one untimed pass that faults the pages in).
double memory_read_gbps(const ReadBandwidthOptions& options = {});
// The same over caller-provided memory (already warm or not: the first pass
// is untimed).
double memory_read_gbps(const std::byte* data, uint64_t bytes, unsigned threads, int passes, SimdLevel simd);

// GB/s writing `bytes` of freshly mapped anonymous memory once, with
// `threads` threads (each page is touched for the first time). 0 when the
// memory cannot be mapped.
double fresh_write_gbps(uint64_t bytes, unsigned threads = 1);

}  // namespace wm
