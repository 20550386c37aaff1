// Files that change under a mapping: truncated mid-pass or mid-verify (the
// SIGBUS guard turns the fault into an error naming file, tensor and
// offset, and the process goes on), truncated, rewritten in place, saved
// over or removed before the next use (LoadedModel::check_files fails, naming the
// file), and a new load of a file changed since it was parsed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <thread>

#include "compute/pass.h"
#include "compute_reference.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "io/sigbus_guard.h"
#include "load/loader.h"
#include "verify/verify.h"
#include "lora_test_support.h"
#include "platform_support.h"
#include "test_support.h"
#include "lora/apply.h"

namespace wm {
namespace {

using test::TempDir;

// Four 512 KiB F16 matrices (large enough for the pass to split rows across
// threads) and a 1-D tensor (reduced, not multiplied) at the end.
constexpr uint64_t kRows = 256, kCols = 1024;
constexpr int kMatrices = 4;

std::string write_model(const TempDir& dir) {
  GgufWriter g(3, 4096);  // page-aligned tensors: truncating at one leaves the next unreadable
  for (int i = 0; i < kMatrices; ++i)
    g.add_tensor(fmt::format("blk.{}.weight", i), DType::F16, {kRows, kCols},
                 TensorData::bytes(test::random_weights(DType::F16, kRows, kCols, static_cast<uint64_t>(i + 1))));
  g.add_tensor("norm", DType::F32, {kCols}, TensorData::bytes(test::pattern(kCols * 4, 7)));
  std::string path = dir.file("m.gguf");
  EXPECT_TRUE(g.write(path).ok());
  return path;
}

LoadedModel load(const std::string& path, PrefetchMode prefetch = PrefetchMode::kNone) {
  auto table = open_model({path});
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  LoadOptions o;
  o.hints = MmapHints();  // none: pages are faulted in by the pass itself
  o.prefetch = prefetch;
  auto m = load_model(std::move(table.value()), o);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  return std::move(m.value());
}

const Tensor& tensor(const LoadedModel& m, const std::string& name) {
  const Tensor* t = m.find(name);
  EXPECT_NE(t, nullptr) << name;
  return *t;
}

// Shrinking a mapped file is what makes its pages fault. Windows refuses
// it (the tests that need it skip, saying so); the guard itself is tested
// on every platform below (SigbusGuard).
#define SKIP_UNLESS_MAPPED_FILES_SHRINK()                                   \
  do {                                                                      \
    std::string why;                                                        \
    if (!test::mapped_files_can_shrink(&why)) GTEST_SKIP() << why;          \
  } while (0)

void truncate_to(const std::string& path, uint64_t size) {
  std::string why;
  ASSERT_TRUE(test::shrink_file(path, size, &why)) << why;
}

// A later modification time even on coarse timestamps, then other bytes.
void rewrite_in_place(const std::string& path, uint64_t offset, std::byte value) {
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(test::write_at(path, offset, std::vector<std::byte>(4096, value)));
}

TEST(MappingChanges, TruncatedDuringThePassIsAnErrorNamingFileTensorAndOffset) {
  SKIP_UNLESS_MAPPED_FILES_SHRINK();
  TempDir dir;
  std::string path = write_model(dir);
  LoadedModel m = load(path);
  ASSERT_EQ(m.report().tensors_mapped, m.tensors().size());
  const uint64_t cut = tensor(m, "blk.1.weight").file_offset;  // blk.0 stays, blk.1 on vanish
  uint64_t caught_before = sigbus_faults_caught();
  PassOptions o;
  o.threads = 2;
  bool truncated = false;
  o.extra_term = [&](size_t, std::span<const float>, std::span<float>) {
    if (!truncated) truncate_to(path, cut);  // after the first matrix: the check at the start has passed
    truncated = true;
  };
  auto r = compute_pass(m, o);
  ASSERT_TRUE(truncated);
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.file, path);
  EXPECT_EQ(e.tensor, "blk.1.weight");
  ASSERT_TRUE(e.offset.has_value());
  EXPECT_GE(*e.offset, cut);
  EXPECT_LT(*e.offset, cut + kRows * kCols * 2);
  EXPECT_NE(e.message.find("compute pass"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("can no longer be read"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("bytes when opened"), std::string::npos) << e.message;  // says what changed
  EXPECT_GT(sigbus_faults_caught(), caught_before);
  // The process goes on, and the model can still be released.
  EXPECT_TRUE(m.release().ok());
}

TEST(MappingChanges, TruncatedInsideAReducedTensorIsCaughtToo) {
  SKIP_UNLESS_MAPPED_FILES_SHRINK();
  TempDir dir;
  std::string path = write_model(dir);
  LoadedModel m = load(path);
  const uint64_t cut = tensor(m, "norm").file_offset;
  PassOptions o;
  o.threads = 1;
  int calls = 0;
  o.extra_term = [&](size_t, std::span<const float>, std::span<float>) {
    if (++calls == kMatrices) truncate_to(path, cut);  // every matrix done: only the 1-D tensor is left
  };
  auto r = compute_pass(m, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().tensor, "norm");
  EXPECT_EQ(r.error().file, path);
  EXPECT_GE(r.error().offset.value_or(0), cut);
}

TEST(MappingChanges, RewrittenInPlaceDuringThePassFailsInsteadOfAWrongChecksum) {
  TempDir dir;
  std::string path = write_model(dir);
  LoadedModel m = load(path);
  const uint64_t later = tensor(m, "blk.3.weight").file_offset;
  PassOptions o;
  bool rewritten = false;
  o.extra_term = [&](size_t, std::span<const float>, std::span<float>) {
    if (rewritten) return;
    rewritten = true;
    rewrite_in_place(path, later, std::byte{0x3c});  // no fault: other bytes
  };
  auto r = compute_pass(m, o);
  ASSERT_TRUE(rewritten);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, path);
  EXPECT_NE(r.error().message.find("modified in place"), std::string::npos) << r.error().message;
}

TEST(MappingChanges, TruncatedDuringVerifyIsAnErrorNotACrash) {
  SKIP_UNLESS_MAPPED_FILES_SHRINK();
  TempDir dir;
  std::string path = write_model(dir);
  LoadedModel m = load(path);
  const uint64_t cut = tensor(m, "blk.2.weight").file_offset;
  VerifyOptions o;
  bool truncated = false;
  o.progress = [&](uint64_t, uint64_t) {
    if (!truncated) truncate_to(path, cut);
    truncated = true;
  };
  auto r = verify_model(m, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, path);
  EXPECT_EQ(r.error().tensor, "blk.2.weight");
  EXPECT_GE(r.error().offset.value_or(0), cut);
  EXPECT_NE(r.error().message.find("verify"), std::string::npos) << r.error().message;
}

// Before trusting the mappings again, each of these checks the files.
enum class Change { kTruncated, kRewrittenInPlace, kSavedOver, kRemoved };
std::string change_name(const ::testing::TestParamInfo<Change>& info) {
  switch (info.param) {
    case Change::kTruncated: return "Truncated";
    case Change::kRewrittenInPlace: return "RewrittenInPlace";
    case Change::kSavedOver: return "SavedOver";
    case Change::kRemoved: return "Removed";
  }
  return "?";
}

void apply_change(Change c, const std::string& path) {
  switch (c) {
    case Change::kTruncated: truncate_to(path, 4096); break;
    case Change::kRewrittenInPlace:
      // Same size, other bytes: what "saving over" with O_TRUNC-less writes does.
      rewrite_in_place(path, 8192, std::byte{0});
      break;
    case Change::kSavedOver: {
      auto bytes = test::read_file(path);
      test::write_file(path + ".new", bytes);
      std::string why;
      if (!test::replace_open_file(path + ".new", path, &why)) GTEST_SKIP() << why;
      break;
    }
    case Change::kRemoved: {
      std::string why;
      if (!test::remove_open_file(path, &why)) GTEST_SKIP() << why;
      break;
    }
  }
}

class FileChanged : public ::testing::TestWithParam<Change> {};

TEST_P(FileChanged, PassVerifyAndLoraRefuseNamingTheFile) {
  if (GetParam() == Change::kTruncated) SKIP_UNLESS_MAPPED_FILES_SHRINK();
  TempDir dir;
  std::string path = write_model(dir);
  LoadedModel m = load(path, PrefetchMode::kWait);
  ASSERT_TRUE(m.check_files().ok());
  apply_change(GetParam(), path);
  if (IsSkipped()) return;
  Status s = m.check_files();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  const char* says = GetParam() == Change::kTruncated          ? "bytes when opened"
                     : GetParam() == Change::kRewrittenInPlace ? "modified in place"
                     : GetParam() == Change::kSavedOver        ? "replaced"
                                                               : "removed";
  EXPECT_NE(s.error().message.find(says), std::string::npos) << s.error().message;

  auto pass = compute_pass(m);
  ASSERT_FALSE(pass.ok());
  EXPECT_EQ(pass.error().file, path);
  auto verify = verify_model(m);
  ASSERT_FALSE(verify.ok());
  EXPECT_EQ(verify.error().file, path);

  // A LoRA for blk.0 (patching would read the changed file).
  lora_test::Factors f = lora_test::random_factors(kRows, kCols, 2, 3, 1.0f);
  lora_test::write_lora_safetensors(dir.file("l.safetensors"),
                                    {{"blk.0", lora_test::Convention::kLlamaCpp, &f, {kRows, kCols}}});
  auto lora = apply_loras(m, {{dir.file("l.safetensors"), 1.0f}}, LoraOptions{});
  ASSERT_FALSE(lora.ok());
  EXPECT_EQ(lora.error().file, path);
  EXPECT_EQ(lora_report(m), nullptr);  // nothing applied
  EXPECT_TRUE(m.release().ok());
}

INSTANTIATE_TEST_SUITE_P(All, FileChanged,
                         ::testing::Values(Change::kTruncated, Change::kRewrittenInPlace, Change::kSavedOver,
                                           Change::kRemoved),
                         change_name);

TEST(MappingChanges, UnchangedFilesPassTheCheckAndTheModelWorks) {
  TempDir dir;
  std::string path = write_model(dir);
  LoadedModel m = load(path);
  EXPECT_TRUE(m.check_files().ok());
  auto pass = compute_pass(m);
  ASSERT_TRUE(pass.ok()) << pass.error().to_string();
  EXPECT_EQ(pass->tensors, static_cast<uint64_t>(kMatrices + 1));
  auto v = verify_model(m);
  ASSERT_TRUE(v.ok()) << v.error().to_string();
  EXPECT_TRUE(v->ok());
}

TEST(MappingChanges, ANewLoadOfAFileChangedSinceParsingFails) {
  TempDir dir;
  std::string path = write_model(dir);
  auto table = open_model({path});
  ASSERT_TRUE(table.ok());
  apply_change(Change::kSavedOver, path);
  if (IsSkipped()) return;
  auto m = load_model(std::move(table.value()), LoadOptions{});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().file, path);
  EXPECT_NE(m.error().message.find("changed since it was parsed"), std::string::npos) << m.error().message;
}

// --- the guard itself --------------------------------------------------------
// Over test::UnreadablePage: two pages, the second faults when touched.

TEST(SigbusGuard, ReturnsTheFaultingAddressAndLeavesTheProcessAlive) {
  test::UnreadablePage m;
  ASSERT_NE(m.base(), nullptr);
  std::byte sink{};
  const std::byte* fault = guard_sigbus(m.base(), 2 * m.page(), [&] {
    for (size_t k = 0; k < 2 * m.page(); k += 512) sink ^= static_cast<const volatile std::byte*>(m.base())[k];
  });
  EXPECT_EQ(fault, m.base() + m.page());  // the first byte of the missing page
  // The readable page is still readable, and a guard over it finishes.
  EXPECT_EQ(guard_sigbus(m.base(), m.page(), [&] { sink ^= static_cast<const volatile std::byte*>(m.base())[0]; }), nullptr);
  std::vector<std::byte> out(m.page());
  EXPECT_EQ(guarded_copy(out.data(), m.base(), m.page()), nullptr);
  EXPECT_EQ(out, test::pattern(m.page(), 1));
  EXPECT_EQ(guarded_copy(out.data(), m.base() + m.page() - 8, 16), m.base() + m.page());
}

TEST(SigbusGuard, NestedGuardsCatchInTheInnermostThatCovers) {
  test::UnreadablePage m;
  std::byte sink{};
  const std::byte* inner = nullptr;
  const std::byte* outer = guard_sigbus(m.base(), 2 * m.page(), [&] {
    inner = guard_sigbus(m.base() + m.page(), m.page(), [&] { sink ^= static_cast<const volatile std::byte*>(m.base())[m.page()]; });
  });
  EXPECT_EQ(inner, m.base() + m.page());
  EXPECT_EQ(outer, nullptr);
}

// Death tests: other faults still kill the process as before (under ASan,
// whose handler ours passes them to, as an ASan report and a failed exit).
TEST(SigbusGuardDeathTest, AFaultOutsideTheGuardedRangeStillKills) {
  WM_SKIP_UNDER_QEMU("qemu-user dies by SIGABRT, not SIGBUS, on an unguarded fault");
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        test::UnreadablePage m;
        std::byte sink{};
        // Guarding only the first page: the fault on the second is not ours.
        (void)guard_sigbus(m.base(), m.page(), [&] { sink ^= static_cast<const volatile std::byte*>(m.base())[m.page()]; });
        std::exit(0);
      },
      test::died_of_fault, "");
}

TEST(SigbusGuardDeathTest, ASentSigbusStillKills) {
  WM_SKIP_UNDER_QEMU("qemu-user dies by SIGABRT, not SIGBUS, on an unguarded fault");
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        test::UnreadablePage m;
        (void)guard_sigbus(m.base(), m.page(), [] {});  // installs the handler
        test::raise_fault_without_access();
        std::exit(0);
      },
      test::died_of_fault, "");
}

}  // namespace
}  // namespace wm
