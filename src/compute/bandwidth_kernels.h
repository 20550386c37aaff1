// The bandwidth probe's read loops, one per SIMD level (internal to
// compute/): each sums the 64-bit words of [p, p + n) so the loads cannot
// be optimised away, four independent sums so that no add waits on the one
// before. Bytes past the last whole step are not read (the probe's slices
// are whole pages). The x86 and NEON ones live in bandwidth_<level>.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace wm::kernels {

inline uint64_t read_sum_portable(const std::byte* p, uint64_t n) {
  uint64_t s[4] = {};
  for (uint64_t i = 0; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * k, 8);
      s[k] += v;
    }
  return s[0] + s[1] + s[2] + s[3];
}

uint64_t read_sum_avx2(const std::byte* p, uint64_t n);
uint64_t read_sum_neon(const std::byte* p, uint64_t n);

}  // namespace wm::kernels
