// compute_bench: how close the compute kernels come to the memory bandwidth
// measured in the same run.
//
// 1. One warm in-memory F16 weight of >= 1 GB (target: kernel >= 0.5 x
//    memory read), plus the first-touch write bandwidth that bounds every
//    strategy that copies, and the cost of the SIGBUS guard the compute pass
//    runs mapped tensors under (matvec_guarded, interleaved with the plain
//    kernel: the ratio should be 1.00).
// 2. The compute pass (what `weightmap run` does) over whole models shaped
//    like real ones (bench_models.h: llama F16, SD 1.5 UNet/VAE/CLIP F16, a
//    Q4_K_M-style llama), written to DIR, loaded mapped and warm; each pass
//    interleaved with a memory-read pass over a 512 MiB buffer (target:
//    every shape >= 0.4 x memory read).
//
//   compute_bench [--gb N (0: skip 1)] [--threads N] [--passes N] [--simd portable|avx2|avx512]
//                 [--models all|none|KIND,KIND...] [--dir DIR] [--keep 0|1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>
#include <string>
#include <vector>

#include "bench_models.h"
#include "compute/bandwidth.h"
#include "compute/matvec.h"
#include "compute/pass.h"
#include "compute/worker_pool.h"
#include "dtype/half.h"
#include "format/model_path.h"
#include "load/loader.h"

namespace {

double best(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Section 1: one large F16 matrix, in memory.
int bench_matrix(double gb, unsigned threads, int passes, wm::SimdLevel level) {
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

// Section 2: the compute pass over one model shape, mapped and warm.
int bench_model(const std::string& kind, const std::string& dir, bool keep, unsigned threads, int passes,
                wm::SimdLevel level, const std::vector<std::byte>& read_buffer) {
  wm::bench::BenchModel m = wm::bench::bench_model(kind);
  std::string path = fmt::format("{}/wm_bench_{}.{}", dir, kind, m.format);
  bool existed = std::filesystem::exists(path);
  if (!existed) {  // a file left by an earlier run (--keep 1) is reused: the bytes are deterministic
    if (wm::Status s = wm::bench::write_bench_model(m, path); !s) {
      fmt::print(stderr, "compute_bench: {}\n", s.error().to_string());
      return 1;
    }
  }
  int rc = 0;
  {
    auto table = wm::open_model({path});
    if (!table) {
      fmt::print(stderr, "compute_bench: {}\n", table.error().to_string());
      return 1;
    }
    auto model = wm::load_model(std::move(table.value()), wm::LoadOptions{});
    if (!model) {
      fmt::print(stderr, "compute_bench: {}\n", model.error().to_string());
      return 1;
    }
    wm::PassOptions o;
    o.threads = threads;
    o.simd = level;
    std::vector<double> pass_gbps, memory;
    wm::PassResult r;
    for (int p = -1; p < passes; ++p) {  // pass -1: untimed, faults the mapping in (the file is warm)
      auto res = wm::compute_pass(*model, o);
      if (!res) {
        fmt::print(stderr, "compute_bench: {}\n", res.error().to_string());
        return 1;
      }
      r = *res;
      if (p < 0) continue;
      pass_gbps.push_back(static_cast<double>(r.bytes) / (r.ms * 1e-3) / 1e9);
      memory.push_back(wm::memory_read_gbps(read_buffer.data(), read_buffer.size(), threads, 1, level));
    }
    double ratio = median(pass_gbps) / median(memory);
    fmt::print("  {:<12} {:6.2f} GB {:5} tensors ({:4} matvec)  pass best {:6.2f} median {:6.2f} GB/s   "
               "memory read median {:6.2f} GB/s   ratio {:.2f}{}\n",
               kind, static_cast<double>(r.bytes) / 1e9, r.tensors, r.tensors_matvec, best(pass_gbps),
               median(pass_gbps), median(memory), ratio, ratio >= 0.4 ? "" : "  BELOW 0.40");
    std::fflush(stdout);
  }
  if (!existed && !keep) std::filesystem::remove(path);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  double gb = 1.0;
  unsigned threads = 2;
  int passes = 5;
  std::string models = "all", dir = std::filesystem::temp_directory_path().string();
  bool keep = false;
  wm::SimdLevel level = wm::best_simd_level();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--gb") gb = std::atof(argv[i + 1]);
    else if (a == "--threads") threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (a == "--passes") passes = std::atoi(argv[i + 1]);
    else if (a == "--models") models = argv[i + 1];
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--keep") keep = std::atoi(argv[i + 1]) != 0;
    else if (a == "--simd") {
      auto l = wm::simd_level_from_name(argv[i + 1]);
      if (!l || !wm::simd_level_supported(*l)) {
        fmt::print(stderr, "compute_bench: SIMD level '{}' unknown or not supported here\n", argv[i + 1]);
        return 2;
      }
      level = *l;
    } else {
      fmt::print(stderr, "usage: compute_bench [--gb N] [--threads N] [--passes N] [--simd LEVEL] "
                         "[--models all|none|KIND,...] [--dir DIR] [--keep 0|1]\n");
      return 2;
    }
  }
  if (passes < 1) passes = 1;
  if (gb > 0)
    if (int rc = bench_matrix(gb, threads, passes, level); rc != 0) return rc;

  std::vector<std::string> kinds;
  if (models == "all") kinds = wm::bench::bench_model_kinds();
  else if (models != "none") {
    std::stringstream ss(models);
    for (std::string k; std::getline(ss, k, ',');) {
      if (wm::bench::bench_model(k).tensors.empty()) {
        fmt::print(stderr, "compute_bench: unknown model kind '{}'\n", k);
        return 2;
      }
      kinds.push_back(k);
    }
  }
  if (kinds.empty()) return 0;
  std::vector<std::byte> read_buffer(512ull << 20, std::byte{1});  // written once: warm
  fmt::print("compute pass over model shapes (mapped, warm), simd {}, {} threads, {} passes; target ratio >= 0.40\n",
             wm::simd_level_name(level), threads, passes);
  for (const std::string& k : kinds)
    if (int rc = bench_model(k, dir, keep, threads, passes, level, read_buffer); rc != 0) return rc;
  return 0;
}
