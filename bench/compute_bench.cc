// compute_bench: how close the F16 matrix-vector kernel comes to the memory
// bandwidth measured in the same run, on a warm in-memory F16 weight of
// >= 1 GB (target: kernel >= 0.5 x memory read), plus the first-touch write
// bandwidth that bounds every strategy that copies; and the cost of the
// SIGBUS guard the compute pass runs mapped tensors under (matvec_guarded,
// interleaved with the plain kernel: the ratio should be 1.00).
//
//   compute_bench [--gb N] [--threads N] [--passes N] [--simd portable|avx2|avx512]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "compute/bandwidth.h"
#include "compute/matvec.h"
#include "compute/pass.h"
#include "compute/worker_pool.h"
#include "dtype/half.h"

int main(int argc, char** argv) {
  double gb = 1.0;
  unsigned threads = 2;
  int passes = 5;
  wm::SimdLevel level = wm::best_simd_level();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--gb") gb = std::atof(argv[i + 1]);
    else if (a == "--threads") threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (a == "--passes") passes = std::atoi(argv[i + 1]);
    else if (a == "--simd") {
      auto l = wm::simd_level_from_name(argv[i + 1]);
      if (!l || !wm::simd_level_supported(*l)) {
        fmt::print(stderr, "compute_bench: SIMD level '{}' unknown or not supported here\n", argv[i + 1]);
        return 2;
      }
      level = *l;
    } else {
      fmt::print(stderr, "usage: compute_bench [--gb N] [--threads N] [--passes N] [--simd LEVEL]\n");
      return 2;
    }
  }
  const uint64_t cols = 8192;
  const uint64_t rows = static_cast<uint64_t>(gb * 1e9) / (cols * 2) + 1;
  const uint64_t bytes = rows * cols * 2;

  // The weight, warm: written once (values in [-1, 1) as F16).
  std::vector<uint16_t> w(rows * cols);
  for (uint64_t i = 0; i < w.size(); ++i) w[i] = wm::f32_to_f16(static_cast<float>(i % 2001) / 1000.0f - 1.0f);
  std::vector<float> x = wm::seeded_input(1, cols), y(rows);
  wm::WorkerPool pool(threads);
  wm::MatrixView view{wm::DType::F16, reinterpret_cast<const std::byte*>(w.data()), rows, cols};

  // Interleave kernel and memory-read passes so both see the same machine state.
  std::vector<double> kernel, guarded, memory;
  wm::matvec(level, view, x.data(), y.data(), &pool);  // untimed warm-up
  for (int p = 0; p < passes; ++p) {
    auto t0 = std::chrono::steady_clock::now();
    wm::matvec(level, view, x.data(), y.data(), &pool);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    kernel.push_back(static_cast<double>(bytes) / s / 1e9);
    t0 = std::chrono::steady_clock::now();
    if (wm::matvec_guarded(level, view, x.data(), y.data(), &pool) != nullptr) return 1;  // no file: cannot fault
    s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    guarded.push_back(static_cast<double>(bytes) / s / 1e9);
    memory.push_back(wm::memory_read_gbps(reinterpret_cast<const std::byte*>(w.data()), bytes, threads, 1, level));
  }
  double fresh1 = wm::fresh_write_gbps(1ull << 30, 1);
  double fresh2 = wm::fresh_write_gbps(1ull << 30, threads);

  auto best = [](std::vector<double> v) { return *std::max_element(v.begin(), v.end()); };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double checksum = 0;
  for (float v : y) checksum += v;
  fmt::print("F16 weight {} x {} = {:.2f} GB (in memory, warm), simd {}, {} threads, {} passes\n", rows, cols,
             static_cast<double>(bytes) / 1e9, wm::simd_level_name(level), threads, passes);
  fmt::print("  matvec F16 kernel   best {:6.2f} GB/s   median {:6.2f} GB/s\n", best(kernel), median(kernel));
  fmt::print("  matvec, SIGBUS guard best {:6.2f} GB/s   median {:6.2f} GB/s   (guarded/plain median {:.3f})\n",
             best(guarded), median(guarded), median(guarded) / median(kernel));
  fmt::print("  memory read         best {:6.2f} GB/s   median {:6.2f} GB/s   (same buffer, same threads)\n",
             best(memory), median(memory));
  fmt::print("  ratio kernel/memory best {:6.2f}        median {:6.2f}        (target >= 0.50)\n",
             best(kernel) / best(memory), median(kernel) / median(memory));
  fmt::print("  fresh write (first touch, 1 GiB)   1 thread {:5.2f} GB/s   {} threads {:5.2f} GB/s\n", fresh1, threads,
             fresh2);
  fmt::print("  (sum of y: {:.6g})\n", checksum);
  return 0;
}
