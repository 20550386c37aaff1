#include "compute/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "compute/simd_levels.h"
#include "io/memory.h"

namespace wm {
namespace {

using Clock = std::chrono::steady_clock;

// The level's read loop (bandwidth_kernels.h). REQUIRES: simd_level_supported(simd).
uint64_t read_range(const std::byte* p, uint64_t n, SimdLevel simd) {
  return kernels::built_level_kernels(simd)->read_sum(p, n);
}

// Runs fn(begin, end) on `threads` threads over equal slices of [0, bytes);
// returns the wall seconds.
template <class Fn>
double timed_split(uint64_t bytes, unsigned threads, Fn fn) {
  threads = std::max(threads, 1u);
  uint64_t slice = (bytes / threads) & ~uint64_t{4095};
  std::vector<std::thread> pool;
  auto t0 = Clock::now();
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(fn, slice * t, t + 1 == threads ? bytes : slice * (t + 1));
  fn(0, threads == 1 ? bytes : slice);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::atomic<uint64_t> g_sink{0};

}  // namespace

double memory_read_gbps(const std::byte* data, uint64_t bytes, unsigned threads, int passes, SimdLevel simd) {
  if (!simd_level_supported(simd)) simd = SimdLevel::kPortable;
  double best = 0;
  for (int pass = 0; pass <= passes; ++pass) {
    double s = timed_split(bytes, threads, [&](uint64_t b, uint64_t e) {
      g_sink.fetch_add(read_range(data + b, e - b, simd), std::memory_order_relaxed);
    });
    if (pass > 0 && s > 0) best = std::max(best, static_cast<double>(bytes) / s / 1e9);
  }
  return best;
}

double memory_read_gbps(const ReadBandwidthOptions& options) {
  std::vector<std::byte> buf(options.bytes);
  for (uint64_t i = 0; i < buf.size(); i += 4096) buf[i] = static_cast<std::byte>(i >> 12);
  return memory_read_gbps(buf.data(), buf.size(), options.threads, options.passes, options.simd);
}

double fresh_write_gbps(uint64_t bytes, unsigned threads) {
  auto fresh = AnonymousMemory::allocate(bytes);  // pages never touched, as a copy's destination
  if (!fresh) return 0;
  std::byte* b = fresh->data();
  double s = timed_split(bytes, threads, [&](uint64_t begin, uint64_t end) { std::memset(b + begin, 1, end - begin); });
  return s > 0 ? static_cast<double>(bytes) / s / 1e9 : 0;
}

}  // namespace wm
