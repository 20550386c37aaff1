// The loader's page-cache options end to end: whatever the hints, prefetch
// mode and copy-path reader, every tensor's bytes equal the file's; auto
// tells cold from warm; eviction, O_DIRECT and the cache window leave the
// cache as promised; --max-memory refuses a load that would not fit.
#include <gtest/gtest.h>

#include <cstring>

#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "load/loader.h"
#include "page_cache_support.h"
#include "test_support.h"
#include "io/process_memory.h"

namespace wm {
namespace {

using test::TempDir;

// A model of `n` F16 tensors of `rows` x 1024 (2 KiB a row), plus a small
// odd-sized F32 one, so tensor offsets are not all page aligned.
std::string write_model(const TempDir& dir, int n, uint64_t rows) {
  std::string path = dir.file("model.safetensors");
  SafetensorsWriter w;
  w.add_tensor("small", DType::F32, {3, 5}, TensorData::bytes(test::pattern(60, 1)));
  for (int i = 0; i < n; ++i)
    w.add_tensor("layer" + std::to_string(i), DType::F16, {rows, 1024},
                 TensorData::bytes(test::pattern(rows * 2048, 10 + static_cast<uint32_t>(i))));
  Status s = w.write(path);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  test::make_cold(path);  // flushed, so it can be evicted
  return path;
}

TensorTable table_of(const std::string& path) {
  auto t = open_model({path});
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  return t.ok() ? std::move(t.value()) : TensorTable{};
}

// Every tensor (after wait_ready) equals the file's bytes.
void expect_bytes_match(const LoadedModel& m, const std::string& path, const std::string& what) {
  auto file = test::read_file(path);
  for (size_t i = 0; i < m.tensors().size(); ++i) {
    ASSERT_TRUE(m.wait_ready(i).ok()) << what;
    const Tensor& t = m.tensors()[i];
    std::vector<std::byte> got(t.nbytes);
    if (t.on_device) ASSERT_TRUE(m.read_bytes(static_cast<size_t>(&t - m.tensors().data()), 0, got.data(), got.size()).ok());
    else std::memcpy(got.data(), t.host_data, t.nbytes);
    ASSERT_EQ(std::memcmp(got.data(), file.data() + t.file_offset, t.nbytes), 0) << what << ": " << t.name;
  }
}

LoadOptions options(bool mmap) {
  LoadOptions o;
  o.plan.use_mmap = mmap;
  o.staging_bytes = 1 << 20;
  return o;
}

#define SKIP_UNLESS_COLD_POSSIBLE(dir)                        \
  do {                                                        \
    std::string why;                                          \
    if (!test::can_make_cold(dir, &why)) GTEST_SKIP() << why; \
  } while (0)

TEST(LoadPageCache, EveryStrategyGivesTheFileBytes) {
  TempDir dir;
  std::string path = write_model(dir, 6, 700);  // ~8 MiB
  struct Case {
    const char* name;
    bool mmap;
    const char* hints;
    PrefetchMode prefetch;
    IoMode io;
    const char* device_rules;
  };
  const Case cases[] = {
      {"mapped, none", true, "none", PrefetchMode::kBackground, IoMode::kRead, ""},
      {"mapped, populate, background", true, "populate", PrefetchMode::kBackground, IoMode::kRead, ""},
      {"mapped, populate, wait", true, "populate", PrefetchMode::kWait, IoMode::kRead, ""},
      {"mapped, auto", true, "auto", PrefetchMode::kBackground, IoMode::kRead, ""},
      {"mapped, auto, lazy", true, "auto", PrefetchMode::kNone, IoMode::kRead, ""},
      {"mapped, sequential+willneed", true, "sequential,willneed", PrefetchMode::kBackground, IoMode::kRead, ""},
      {"mapped, random", true, "random", PrefetchMode::kBackground, IoMode::kRead, ""},
      {"copy, pread", false, "auto", PrefetchMode::kBackground, IoMode::kRead, ""},
      {"copy, direct", false, "auto", PrefetchMode::kBackground, IoMode::kDirect, ""},
      {"copy, uring", false, "auto", PrefetchMode::kBackground, IoMode::kUring, ""},
      {"sim device, direct", true, "auto", PrefetchMode::kBackground, IoMode::kDirect, "*=sim"},
      {"sim device, uring", true, "auto", PrefetchMode::kBackground, IoMode::kUring, "*=sim"},
  };
  for (const Case& c : cases) {
    test::make_cold(path);
    LoadOptions o = options(c.mmap);
    auto h = parse_mmap_hints(c.hints, "test");
    ASSERT_TRUE(h.ok());
    o.hints = *h;
    o.prefetch = c.prefetch;
    o.io = c.io;
    auto rules = NameRules::parse(c.device_rules);
    ASSERT_TRUE(rules.ok());
    o.plan.device_rules = *rules;
    auto m = load_model(table_of(path), o);
    ASSERT_TRUE(m.ok()) << c.name << ": " << m.error().to_string();
    expect_bytes_match(*m, path, c.name);
    EXPECT_EQ(m->report().hints_requested, c.hints == std::string("none") ? "none" : h->to_string());
  }
}

TEST(LoadPageCache, AutoPrefetchesACold_FileAndLeavesAWarmOneAlone) {
  WM_SKIP_UNDER_QEMU("qemu-user ignores madvise, and mincore does not show what the host cached");
  TempDir dir;
  SKIP_UNLESS_COLD_POSSIBLE(dir.path());
  std::string path = write_model(dir, 8, 1024);  // 16 MiB
  ASSERT_TRUE(test::make_cold(path));
  LoadOptions o = options(true);
  o.prefetch = PrefetchMode::kWait;
  {
    auto m = load_model(table_of(path), o);
    ASSERT_TRUE(m.ok()) << m.error().to_string();
    EXPECT_LT(m->report().residency_before, 0.1);
    EXPECT_NE(m->report().hints_applied.find("populate (auto: cold"), std::string::npos) << m->report().hints_applied;
    EXPECT_TRUE(m->prefetch_stats().done);
    EXPECT_GT(m->prefetch_stats().bytes, 16u << 20);
  }
  EXPECT_GT(test::cached_fraction(path), 0.99);  // the prefetch read it all; release did not evict
  auto warm = load_model(table_of(path), o);
  ASSERT_TRUE(warm.ok());
  EXPECT_GT(warm->report().residency_before, 0.98);
  EXPECT_NE(warm->report().hints_applied.find("none (auto: warm"), std::string::npos) << warm->report().hints_applied;
  EXPECT_EQ(warm->prefetch_stats().chunks, 0u);
}

TEST(LoadPageCache, ReleaseWithEvictEmptiesTheCache) {
  TempDir dir;
  SKIP_UNLESS_COLD_POSSIBLE(dir.path());
  std::string path = write_model(dir, 4, 1024);
  for (bool mmap : {true, false}) {
    auto m = load_model(table_of(path), options(mmap));
    ASSERT_TRUE(m.ok());
    expect_bytes_match(*m, path, "before release");  // touches every page
    EXPECT_GT(test::cached_fraction(path), 0.9);
    ASSERT_TRUE(m->release(true).ok());
    EXPECT_LT(test::cached_fraction(path), 0.02) << (mmap ? "mapped" : "copied");
  }
}

TEST(LoadPageCache, DontneedHintEvictsWhenTheModelGoes) {
  WM_SKIP_UNDER_QEMU("qemu-user ignores madvise, and mincore does not show what the host cached");
  TempDir dir;
  SKIP_UNLESS_COLD_POSSIBLE(dir.path());
  std::string path = write_model(dir, 4, 1024);
  LoadOptions o = options(true);
  o.hints = MmapHints().with(MmapHint::kPopulate).with(MmapHint::kDontneed);
  o.prefetch = PrefetchMode::kWait;
  {
    auto m = load_model(table_of(path), o);
    ASSERT_TRUE(m.ok());
    EXPECT_NE(m->report().hints_applied.find("dontneed"), std::string::npos);
    EXPECT_GT(test::cached_fraction(path), 0.99);
  }
  EXPECT_LT(test::cached_fraction(path), 0.02);
}

TEST(LoadPageCache, DirectIoLeavesAColdFileCold) {
  TempDir dir;
  SKIP_UNLESS_COLD_POSSIBLE(dir.path());
  std::string path = write_model(dir, 8, 1024);
  ASSERT_TRUE(test::make_cold(path));
  LoadOptions o = options(false);
  o.io = IoMode::kDirect;
  auto m = load_model(table_of(path), o);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  if (m->report().io_mode != "direct") GTEST_SKIP() << "O_DIRECT refused here; fell back to " << m->report().io_mode;
  // Only the header, read by the parser, may be cached.
  EXPECT_LT(test::cached_fraction(path), 0.02);
  expect_bytes_match(*m, path, "direct");
}

TEST(LoadPageCache, CacheWindowBoundsTheCacheACopyLoadLeaves) {
  TempDir dir;
  SKIP_UNLESS_COLD_POSSIBLE(dir.path());
  std::string path = write_model(dir, 24, 1024);  // 48 MiB
  ASSERT_TRUE(test::make_cold(path));
  LoadOptions o = options(false);
  o.cache_window_bytes = 4 << 20;
  o.threads = 1;
  auto m = load_model(table_of(path), o);
  ASSERT_TRUE(m.ok());
  EXPECT_GT(m->report().cache_dropped_bytes, 40u << 20);
  // What stays: the last half window and what read-ahead fetched past it.
  EXPECT_LT(test::cached_fraction(path), 0.35);
  expect_bytes_match(*m, path, "window");

  ASSERT_TRUE(test::make_cold(path));
  auto plain = load_model(table_of(path), options(false));
  ASSERT_TRUE(plain.ok());
  EXPECT_GT(test::cached_fraction(path), 0.95);  // without the window everything stays
}

TEST(LoadPageCache, MaxMemoryRefusesACopyThatWouldNotFitButNotAMapping) {
  TempDir dir;
  std::string path = write_model(dir, 4, 1024);  // 8 MiB
  LoadOptions o = options(false);
  o.max_memory_bytes = read_process_memory().anon_kib * 1024 + (4u << 20);
  auto m = load_model(table_of(path), o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("--max-memory"), std::string::npos) << m.error().message;
  EXPECT_EQ(m.error().file, path);
  auto need = anon_bytes_needed(table_of(path), o);
  ASSERT_TRUE(need.ok());
  EXPECT_EQ(*need, (8u << 20) + 60 + (1u << 20));  // the copies plus the staging budget

  LoadOptions mapped = options(true);
  mapped.max_memory_bytes = o.max_memory_bytes;
  auto ok = load_model(table_of(path), mapped);
  EXPECT_TRUE(ok.ok()) << ok.error().to_string();
}

}  // namespace
}  // namespace wm
