#include "compute/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <immintrin.h>
#include <thread>
#include <vector>

#include "io/memory.h"

namespace wm {
namespace {

using Clock = std::chrono::steady_clock;

// Sums 64-bit words so the loads cannot be optimised away. REQUIRES: n % 64 == 0.
__attribute__((target("avx2"))) uint64_t read_avx2(const std::byte* p, uint64_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (uint64_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t read_portable(const std::byte* p, uint64_t n) {
  uint64_t s[4] = {};
  for (uint64_t i = 0; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * k, 8);
      s[k] += v;
    }
  return s[0] + s[1] + s[2] + s[3];
}

uint64_t read_range(const std::byte* p, uint64_t n, SimdLevel simd) {
  return simd == SimdLevel::kPortable ? read_portable(p, n) : read_avx2(p, n);
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
