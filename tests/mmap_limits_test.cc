// The process-wide mmap limits: past them a file is read instead of mapped,
// with the reason logged and given per tensor; permits come back when
// models are released; the environment variables parse or fail clearly.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fmt/format.h>
#include <thread>

#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "io/mmap_limiter.h"
#include "load/loader.h"
#include "verify/verify.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

// Restores the limits a test changed.
struct LimitsGuard {
  MmapLimits saved = mmap_limits();
  ~LimitsGuard() { set_mmap_limits(saved); }
};

std::string write_file(const TempDir& dir, const std::string& name, uint32_t seed) {
  GgufWriter g;
  g.add_tensor(fmt::format("w{}", seed), DType::F32, {64, 64}, TensorData::bytes(test::pattern(64 * 64 * 4, seed)));
  std::string path = dir.file(name);
  EXPECT_TRUE(g.write(path).ok());
  return path;
}

struct Loaded {
  LoadedModel model;
  std::vector<std::string> warnings;
};

Loaded load(const std::vector<std::string>& paths) {
  Loaded out;
  auto table = open_model(paths);
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  if (!table) return out;
  LoadOptions o;
  o.log = Logger([&out](LogLevel l, std::string_view m) {
    if (l == LogLevel::kWarn) out.warnings.emplace_back(m);
  });
  auto m = load_model(std::move(table.value()), o);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  if (m) out.model = std::move(m.value());
  return out;
}

TEST(MmapLimits, PastTheFileLimitTheRestIsReadWithTheReasonLogged) {
  LimitsGuard restore;
  set_mmap_limits({.max_files = mmap_usage().files + 1, .max_bytes = 0});
  TempDir dir;
  std::vector<std::string> paths = {write_file(dir, "a.gguf", 1), write_file(dir, "b.gguf", 2)};
  Loaded l = load(paths);
  const auto& ts = l.model.tensors();
  ASSERT_EQ(ts.size(), 2u);  // in file order: a's first
  EXPECT_EQ(ts[0].placement, Placement::kMap);
  EXPECT_EQ(ts[1].placement, Placement::kCopy);
  EXPECT_NE(ts[1].reason.find("mmap limit"), std::string::npos) << ts[1].reason;
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_NE(l.warnings[0].find(paths[1]), std::string::npos) << l.warnings[0];
  EXPECT_NE(l.warnings[0].find("reading it instead"), std::string::npos) << l.warnings[0];
  // Read instead of mapped, the bytes are still the file's.
  auto v = verify_model(l.model);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_TRUE(v->ok());
  // Released, the permit comes back: the next load maps both... one at a time.
  uint64_t files_before = mmap_usage().files;
  ASSERT_TRUE(l.model.release().ok());
  EXPECT_EQ(mmap_usage().files, files_before - 1);
  Loaded again = load({paths[1]});
  EXPECT_EQ(again.model.tensors()[0].placement, Placement::kMap);
}

TEST(MmapLimits, PastTheByteLimitTheFileIsRead) {
  LimitsGuard restore;
  TempDir dir;
  std::string path = write_file(dir, "a.gguf", 3);
  set_mmap_limits({.max_files = 0, .max_bytes = mmap_usage().bytes + 1024});  // far below the file
  Loaded l = load({path});
  EXPECT_EQ(l.model.tensors()[0].placement, Placement::kCopy);
  EXPECT_NE(l.model.tensors()[0].reason.find("mmap limit"), std::string::npos);
  set_mmap_limits({.max_files = 0, .max_bytes = 0});  // no limit
  Loaded unlimited = load({path});
  EXPECT_EQ(unlimited.model.tensors()[0].placement, Placement::kMap);
}

TEST(MmapLimits, PermitsCountAndComeBackAcrossThreads) {
  LimitsGuard restore;
  set_mmap_limits({.max_files = 0, .max_bytes = 0});
  MmapUsage before = mmap_usage();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([] {
      for (int k = 0; k < 1000; ++k) {
        auto p = MmapPermit::acquire(4096);
        ASSERT_TRUE(p.ok());
        MmapPermit moved = std::move(p.value());
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mmap_usage().files, before.files);
  EXPECT_EQ(mmap_usage().bytes, before.bytes);
  // A limit of N files grants exactly N.
  set_mmap_limits({.max_files = before.files + 3, .max_bytes = 0});
  std::vector<MmapPermit> held;
  for (int k = 0; k < 5; ++k)
    if (auto p = MmapPermit::acquire(1)) held.push_back(std::move(p.value()));
  EXPECT_EQ(held.size(), 3u);
}

TEST(MmapLimits, EnvironmentVariablesParseOrFailNamingTheVariable) {
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_FILES", "12");
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_BYTES", "1.5G");
  auto l = mmap_limits_from_env({});
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_EQ(l->max_files, 12u);
  EXPECT_EQ(l->max_bytes, 3ull << 29);
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_FILES", "12x");
  auto bad = mmap_limits_from_env({});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("WEIGHTMAP_MAX_MAPPED_FILES"), std::string::npos);
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_FILES", "");
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_BYTES", "lots");
  bad = mmap_limits_from_env({});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("WEIGHTMAP_MAX_MAPPED_BYTES"), std::string::npos);
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_FILES", nullptr);
  wm::test::set_env("WEIGHTMAP_MAX_MAPPED_BYTES", nullptr);
  auto defaults = mmap_limits_from_env({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->max_files, MmapLimits{}.max_files);
  EXPECT_EQ(defaults->max_bytes, 0u);
}

}  // namespace
}  // namespace wm
