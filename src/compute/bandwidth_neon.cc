// The bandwidth probe's NEON read: 64 bytes a step into four 128-bit sums.
#include <arm_neon.h>

#include "compute/bandwidth_kernels.h"

namespace wm::kernels {

uint64_t read_sum_neon(const std::byte* p, uint64_t n) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  auto load = [](const uint8_t* at) { return vreinterpretq_u64_u8(vld1q_u8(at)); };
  uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
  for (uint64_t i = 0; i + 64 <= n; i += 64) {
    a0 = vaddq_u64(a0, load(b + i));
    a1 = vaddq_u64(a1, load(b + i + 16));
    a2 = vaddq_u64(a2, load(b + i + 32));
    a3 = vaddq_u64(a3, load(b + i + 48));
  }
  return vaddvq_u64(vaddq_u64(vaddq_u64(a0, a1), vaddq_u64(a2, a3)));
}

}  // namespace wm::kernels
