// What a LoRA costs on a mapped model, two ways:
//   weightmap: apply_loras immediately (copy-on-write over the patched
//              tensors only), then remove_loras;
//   whole-file private mapping: what engines do today (MAP_PRIVATE +
//              PROT_WRITE over the whole file), patching the same bytes.
// Prints S (model), P (patched bytes), and growth of RssAnon (this process)
// and Committed_AS (/proc/meminfo, system-wide: noisy on a busy machine)
// after apply and after remove, and this process's own commit charge (the
// sizes of its private writable mappings in /proc/self/maps, which is what
// the kernel charges to Committed_AS for it; not disturbed by other processes).
//   lora_bench [DIR=/tmp/lora_bench] [MODEL_MIB=2048] [PATCHED_TENSORS=1]
#include <fmt/format.h>
#include <malloc.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "dtype/half.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "io/file.h"
#include "io/process_memory.h"
#include "format/model_path.h"
#include "weightmap/weightmap.hpp"

namespace {

using namespace wm;
constexpr uint64_t kRows = 8192, kCols = 4096;  // one F16 tensor: 64 MiB
constexpr uint32_t kRank = 16;

int64_t committed_as_kib() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[256];
  long long v = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "Committed_AS: %lld kB", &v) == 1) break;
  std::fclose(f);
  return v;
}

// Sum of this process's private writable mappings ("rw-p"), KiB.
int64_t own_commit_kib() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (!f) return -1;
  char line[512];
  unsigned long long lo = 0, hi = 0;
  char perms[8] = {};
  int64_t kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && perms[1] == 'w' && perms[3] == 'p')
      kib += static_cast<int64_t>((hi - lo) / 1024);
  std::fclose(f);
  return kib;
}

struct Snapshot {
  int64_t anon_kib, committed_kib, own_kib;
  static Snapshot now() {
    malloc_trim(0);  // heap pages malloc only caches are not the LoRA's
    return {static_cast<int64_t>(read_process_memory().anon_kib), committed_as_kib(), own_commit_kib()};
  }
};

double mib(int64_t kib) { return static_cast<double>(kib) / 1024; }
void print_growth(const char* what, Snapshot base, Snapshot now) {
  fmt::print("  {:<14} RssAnon {:+8.1f} MiB   Committed_AS {:+8.1f} MiB (system)   own commit {:+8.1f} MiB\n",
             what, mib(now.anon_kib - base.anon_kib), mib(now.committed_kib - base.committed_kib),
             mib(now.own_kib - base.own_kib));
}
double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

TensorData f16_fill(uint64_t seed) {
  TensorData d;
  d.size = kRows * kCols * 2;
  d.fill = [seed](uint64_t offset, std::span<std::byte> out) {
    for (size_t i = 0; i + 1 < out.size(); i += 2) {
      uint16_t h = f32_to_f16(static_cast<float>(((offset + i) / 2 * 2654435761u + seed) % 2001) / 1000.0f - 1.0f);
      std::memcpy(out.data() + i, &h, 2);
    }
  };
  return d;
}

TensorData f32_values(uint64_t n, uint64_t seed) {
  std::vector<std::byte> b(n * 4);
  for (uint64_t k = 0; k < n; ++k) {
    float v = static_cast<float>((k * 40503u + seed) % 1001) / 1000.0f - 0.5f;
    std::memcpy(b.data() + 4 * k, &v, 4);
  }
  return TensorData::bytes(std::move(b));
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/lora_bench";
  uint64_t model_mib = argc > 2 ? std::stoull(argv[2]) : 2048;
  uint64_t patched_tensors = argc > 3 ? std::stoull(argv[3]) : 1;
  uint64_t tensors = std::max<uint64_t>(model_mib / 64, patched_tensors);
  std::filesystem::create_directories(dir);
  std::string base = dir + "/base.gguf", lora = dir + "/lora.safetensors";

  if (!std::filesystem::exists(base) || std::filesystem::file_size(base) < tensors * kRows * kCols * 2) {
    fmt::print("writing {} ({} x 64 MiB F16 tensors)...\n", base, tensors);
    GgufWriter w;
    for (uint64_t k = 0; k < tensors; ++k) w.add_tensor(fmt::format("blk.{}.weight", k), DType::F16, {kRows, kCols}, f16_fill(k));
    if (Status s = w.write(base); !s) return fmt::print(stderr, "{}\n", s.error().to_string()), 1;
  }
  SafetensorsWriter l;
  for (uint64_t k = 0; k < patched_tensors; ++k) {
    std::string stem = fmt::format("blk.{}", k * tensors / patched_tensors);
    l.add_tensor(stem + ".lora_A.weight", DType::F32, {kRank, kCols}, f32_values(kRank * kCols, 2 * k));
    l.add_tensor(stem + ".lora_B.weight", DType::F32, {kRows, kRank}, f32_values(kRows * kRank, 2 * k + 1));
  }
  if (Status s = l.write(lora); !s) return fmt::print(stderr, "{}\n", s.error().to_string()), 1;

  auto model = wm::open(base);  // the public API, as an engine loads
  if (!model) return fmt::print(stderr, "{}\n", model.error().to_string()), 1;
  const uint64_t s_bytes = model->report().file_bytes;
  const uint64_t p_bytes = patched_tensors * kRows * kCols * 2;
  fmt::print("S = {:.1f} MiB mapped ({} tensors), P = {:.1f} MiB patched ({} tensors), rank {}\n",
             static_cast<double>(s_bytes) / (1 << 20), model->tensors().size(), static_cast<double>(p_bytes) / (1 << 20),
             patched_tensors, kRank);

  fmt::print("weightmap (copy-on-write per patched tensor):\n");
  Snapshot before = Snapshot::now();
  auto t0 = std::chrono::steady_clock::now();
  LoraOptions o;
  o.mode = LoraApplyMode::kImmediately;
  auto r = model->apply_loras({{lora, 1.0f}}, o);
  if (!r) return fmt::print(stderr, "{}\n", r.error().to_string()), 1;
  double apply_ms = ms_since(t0);
  print_growth("after apply", before, Snapshot::now());
  t0 = std::chrono::steady_clock::now();
  if (auto s = model->remove_loras(); !s) return fmt::print(stderr, "{}\n", s.error().to_string()), 1;
  double remove_ms = ms_since(t0);
  print_growth("after remove", before, Snapshot::now());
  fmt::print("  apply {:.0f} ms, remove {:.1f} ms; copy-on-write {:.1f} MiB\n", apply_ms, remove_ms,
             static_cast<double>(r->cow_bytes) / (1 << 20));
  (void)model->release();

  fmt::print("whole-file private writable mapping (the usual way), same bytes patched:\n");
  auto file = File::open(base);
  if (!file) return fmt::print(stderr, "{}\n", file.error().to_string()), 1;
  before = Snapshot::now();
  void* p = ::mmap(nullptr, file->size(), PROT_READ | PROT_WRITE, MAP_PRIVATE, static_cast<int>(file->native_handle().value), 0);
  if (p == MAP_FAILED) return fmt::print(stderr, "mmap: {}\n", std::strerror(errno)), 1;
  auto t2 = open_model({base});
  if (!t2) return 1;
  for (uint64_t k = 0; k < patched_tensors; ++k) {
    const TensorInfo* t = t2->find(fmt::format("blk.{}.weight", k * tensors / patched_tensors));
    auto* b = static_cast<volatile std::byte*>(p) + t->offset;
    for (uint64_t i = 0; i < t->nbytes; i += 4096) b[i] = b[i] ^ std::byte{1};  // one write per page, as a patch does
  }
  print_growth("after patch", before, Snapshot::now());
  ::munmap(p, file->size());
  print_growth("after munmap", before, Snapshot::now());
  return 0;
}
