// What a LoRA costs in memory on a mapped model (issue 5's figure): with a
// LoRA touching P bytes of an S-byte model (S = 256 MiB, P = 8 MiB), RssAnon
// grows by P (+5%), not S, and removing the LoRA gives it back (within 1% of
// P) along with the file's bytes. In-process; the heap trimmed before each
// reading so that heap pages malloc merely caches are not counted as the
// LoRA's. Committed_AS is system-wide and noisy: bench/lora_bench.cc.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "format/model_path.h"
#include "io/file.h"
#include "io/process_memory.h"
#include "load/loader.h"
#include "lora_test_support.h"
#include "platform_support.h"
#include "lora/apply.h"

namespace wm {
namespace {

using namespace lora_test;

uint64_t anon_bytes() {
  test::trim_heap();
  return read_process_memory().anon_kib * 1024;
}

TEST(LoraMemory, CopyOnWriteCostsOnlyThePatchedTensorsAndRemoveGivesThemBack) {
  WM_SKIP_UNDER_QEMU("the process's memory figures include the emulator's own memory");
  WM_SKIP_WITHOUT(Capability::kProcessMemory);
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator and shadow memory make RssAnon meaningless here";
#endif
  constexpr uint64_t kRows = 1024, kCols = 1024, kTensors = 64;  // 64 x 4 MiB F32 = 256 MiB
  test::TempDir dir;
  GgufWriter w;
  for (uint64_t k = 0; k < kTensors; ++k) {
    TensorData d;
    d.size = kRows * kCols * 4;
    d.fill = [k](uint64_t offset, std::span<std::byte> out) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((offset + i) * 7 + k);
    };
    w.add_tensor(fmt::format("blk.{}.weight", k), DType::F32, {kRows, kCols}, std::move(d));
  }
  ASSERT_TRUE(w.write(dir.file("base.gguf")).ok());
  Factors a = random_factors(kRows, kCols, 8, 1), b = random_factors(kRows, kCols, 8, 2);
  write_lora_safetensors(dir.file("l.safetensors"), {{"blk.3", Convention::kPeft, &a, {kRows, kCols}},
                                                     {"blk.40", Convention::kPeft, &b, {kRows, kCols}}});
  const uint64_t patched = 2 * kRows * kCols * 4;  // P

  auto table = open_model({dir.file("base.gguf")});
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  auto model = load_model(std::move(table.value()), {});
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  ASSERT_EQ(model->report().tensors_mapped, kTensors);
  const uint64_t before = anon_bytes();

  auto r = apply_loras(*model, {{dir.file("l.safetensors"), 1.0f}}, {});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->cow_bytes, patched);
  const uint64_t applied = anon_bytes();
  const double growth = static_cast<double>(applied) - static_cast<double>(before);
  RecordProperty("anon_growth_after_apply_bytes", std::to_string(static_cast<int64_t>(growth)));
  EXPECT_LE(growth, 1.05 * patched) << "S = " << kTensors * kRows * kCols * 4 << ", P = " << patched;
  EXPECT_GE(growth, 0.95 * patched) << "the patched pages must really be private copies";

  ASSERT_TRUE(remove_loras(*model).ok());
  const uint64_t removed = anon_bytes();
  const double left = static_cast<double>(removed) - static_cast<double>(before);
  RecordProperty("anon_left_after_remove_bytes", std::to_string(static_cast<int64_t>(left)));
  EXPECT_LE(std::fabs(left), 0.01 * patched);

  auto file = File::open(dir.file("base.gguf"));
  ASSERT_TRUE(file.ok());
  for (const char* name : {"blk.3.weight", "blk.40.weight"}) {
    const Tensor* t = model->find(name);
    ASSERT_NE(t, nullptr);
    std::vector<std::byte> want(t->nbytes);
    ASSERT_TRUE(file->read_exact(t->file_offset, want).ok());
    EXPECT_EQ(std::memcmp(t->host_data, want.data(), want.size()), 0) << name;
  }
}

}  // namespace
}  // namespace wm
