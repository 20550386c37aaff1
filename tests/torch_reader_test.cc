// PyTorch checkpoints written by torch.save (zip and legacy, see
// scripts/make_torch_fixtures.py): every tensor's name, dtype, shape and
// bytes against the values the script exported through numpy; views,
// shared storages, deflated entries and nested dicts; the plan maps plain
// tensors and copies views, giving the reason.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "device/device_caps.h"
#include "format/model_path.h"
#include "format/torch_reader.h"
#include "io/file.h"
#include "load/source_transform.h"
#include "plan/load_plan.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using test::read_refs;
using test::torch_fixture;

TensorTable parse(const std::string& name) {
  auto file = File::open(torch_fixture(name));
  EXPECT_TRUE(file.ok()) << file.error().to_string();
  auto t = parse_torch(FileSource(*file));
  EXPECT_TRUE(t.ok()) << t.error().to_string();
  return t.ok() ? std::move(t.value()) : TensorTable{};
}

// Every tensor of the reference is in the table, in order, with the same
// dtype, shape and bytes (read through read_transformed, which is a plain
// read for plain tensors).
void expect_matches_refs(const std::string& name) {
  SCOPED_TRACE(name);
  TensorTable table = parse(name);
  auto refs = read_refs(torch_fixture(name));
  ASSERT_FALSE(refs.empty());
  ASSERT_EQ(table.tensors().size(), refs.size());
  auto file = File::open(torch_fixture(name));
  ASSERT_TRUE(file.ok());
  for (size_t i = 0; i < refs.size(); ++i) {
    const TensorInfo& t = table.tensors()[i];
    SCOPED_TRACE(refs[i].name);
    EXPECT_EQ(t.name, refs[i].name);
    EXPECT_STREQ(dtype_name(t.dtype), refs[i].dtype.c_str());
    EXPECT_EQ(t.shape, refs[i].shape);
    ASSERT_EQ(t.nbytes, refs[i].bytes.size());
    std::vector<std::byte> got(t.nbytes);
    Status s = read_transformed(*file, t, got);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(got, refs[i].bytes);
    if (t.plain_source()) {  // plain: the bytes are exactly at the offset
      std::vector<std::byte> direct(t.nbytes);
      ASSERT_TRUE(file->read_exact(t.offset, direct).ok());
      EXPECT_EQ(direct, refs[i].bytes);
    }
  }
}

TEST(TorchReader, ZipDtypesMatchReferences) { expect_matches_refs("dtypes.pt"); }
TEST(TorchReader, LegacyDtypesMatchReferences) { expect_matches_refs("dtypes_legacy.pt"); }
TEST(TorchReader, ZipViewsMatchReferences) { expect_matches_refs("views.pt"); }
TEST(TorchReader, LegacyViewsMatchReferences) { expect_matches_refs("views_legacy.pt"); }
TEST(TorchReader, DeflatedViewsMatchReferences) { expect_matches_refs("views_deflated.pt"); }
TEST(TorchReader, NestedStateDictMatchesReferences) { expect_matches_refs("nested.ckpt"); }
TEST(TorchReader, ModelKeyMatchesReferences) { expect_matches_refs("model_key.pth"); }

TEST(TorchReader, FormatsAndMetadata) {
  TensorTable zip = parse("dtypes.pt");
  ASSERT_EQ(zip.files().size(), 1u);
  EXPECT_EQ(zip.files()[0].format, FileFormat::kTorch);
  EXPECT_STREQ(format_name(zip.files()[0].format), "torch");
  bool has_archive = false;
  for (const auto& [k, v] : zip.files()[0].metadata) has_archive |= k == "torch.archive";
  EXPECT_TRUE(has_archive);
  TensorTable legacy = parse("dtypes_legacy.pt");
  ASSERT_EQ(legacy.files().size(), 1u);
  EXPECT_EQ(legacy.files()[0].format, FileFormat::kTorchLegacy);
}

const TensorInfo& by_name(const TensorTable& t, const std::string& name) {
  for (const auto& x : t.tensors())
    if (x.name == name) return x;
  ADD_FAILURE() << "no tensor " << name;
  static TensorInfo none;
  return none;
}

TEST(TorchReader, ViewsShareTheirStorageInPlace) {
  TensorTable t = parse("views.pt");
  const TensorInfo& base = by_name(t, "base");
  const TensorInfo& off = by_name(t, "offset_view");
  const TensorInfo& row = by_name(t, "row_view");
  // base[5:11] and base.view(4,6)[2] are contiguous views of base's storage:
  // addressed in place at element 5 and 12 of it.
  EXPECT_TRUE(base.plain_source() && off.plain_source() && row.plain_source());
  EXPECT_EQ(off.offset, base.offset + 5 * 4);
  EXPECT_EQ(row.offset, base.offset + 12 * 4);
  EXPECT_EQ(base.offset % 64, 0u);  // torch aligns stored entries to 64 bytes
  const TensorInfo& tr = by_name(t, "transposed");
  EXPECT_EQ(tr.source.strides, (std::vector<uint64_t>{1, 6}));  // m is 4x6
  const TensorInfo& strided = by_name(t, "strided");
  EXPECT_EQ(strided.source.strides, (std::vector<uint64_t>{12, 2}));
  const TensorInfo& expanded = by_name(t, "expanded");
  EXPECT_EQ(expanded.source.strides, (std::vector<uint64_t>{0, 1}));
  EXPECT_FALSE(tr.source.deflated);
}

TEST(TorchReader, DeflatedEntriesAreMarked) {
  TensorTable t = parse("views_deflated.pt");
  for (const auto& x : t.tensors()) {
    EXPECT_TRUE(x.source.deflated) << x.name;
    EXPECT_GT(x.source.inflated_bytes, 0u) << x.name;
  }
  EXPECT_EQ(by_name(t, "offset_view").source.first_byte, 5u * 4);
}

TEST(TorchReader, PlanMapsPlainTensorsAndCopiesViewsWithReason) {
  TensorTable t = parse("views.pt");
  auto plan = make_plan(t, {cpu_device_caps()}, {});
  ASSERT_TRUE(plan.ok()) << plan.error().to_string();
  for (size_t i = 0; i < t.tensors().size(); ++i) {
    const TensorInfo& x = t.tensors()[i];
    const TensorPlan& p = plan->tensors[i];
    SCOPED_TRACE(x.name);
    if (!x.source.strides.empty()) {
      EXPECT_EQ(p.placement, Placement::kCopy);
      EXPECT_NE(p.reason.find("non-contiguous view"), std::string::npos) << p.reason;
    } else if (x.offset % dtype_info(x.dtype).block_bytes == 0) {
      EXPECT_EQ(p.placement, Placement::kMap) << p.reason;
    }
  }
  TensorTable d = parse("views_deflated.pt");
  auto dplan = make_plan(d, {cpu_device_caps()}, {});
  ASSERT_TRUE(dplan.ok());
  for (const auto& p : dplan->tensors) {
    EXPECT_EQ(p.placement, Placement::kCopy);
    EXPECT_TRUE(p.reason.find("compressed zip entry") != std::string::npos ||
                p.reason.find("non-contiguous view") != std::string::npos)
        << p.reason;
  }
}

TEST(TorchReader, OpenModelRecognisesCheckpointsByExtensionAndMagic) {
  for (const char* name : {"dtypes.pt", "dtypes_legacy.pt", "nested.ckpt", "model_key.pth"}) {
    auto t = open_model({torch_fixture(name)});
    EXPECT_TRUE(t.ok()) << name << ": " << t.error().to_string();
  }
  // By magic alone, whatever the name.
  test::TempDir dir;
  for (const char* name : {"dtypes.pt", "dtypes_legacy.pt"}) {
    std::string copy = dir.file(std::string(name) + ".weights");
    test::write_file(copy, test::read_file(torch_fixture(name)));
    auto t = open_model_path(copy);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
    EXPECT_EQ(t->tensors().size(), read_refs(torch_fixture(name)).size());
  }
}

TEST(TorchReader, BinThatIsNotACheckpointSaysSo) {
  test::TempDir dir;
  std::string path = dir.file("training_args.bin");
  test::write_text(path, "just some bytes, not a checkpoint");
  auto t = open_model_path(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().file, path);
  EXPECT_NE(t.error().message.find("not a PyTorch checkpoint"), std::string::npos) << t.error().message;
}

TEST(TorchReader, FolderFallsBackToBinWeightsOnlyWithoutSafetensors) {
  test::TempDir dir;
  std::string sub = dir.file("unet");
  std::filesystem::create_directory(sub);
  test::write_file(sub + "/diffusion_pytorch_model.bin", test::read_file(torch_fixture("nested.ckpt")));
  test::write_text(dir.file("model_index.json"), "{}");
  std::vector<std::string> logs;
  OpenOptions o;
  o.log = Logger([&](LogLevel, std::string_view m) { logs.emplace_back(m); });
  auto t = open_model_path(dir.path(), o);
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  ASSERT_FALSE(t->tensors().empty());
  EXPECT_EQ(t->tensors()[0].component, "unet");
  bool said = false;
  for (const auto& m : logs) said |= m.find("PyTorch checkpoints") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST(TorchReader, GatherStridedWalksEveryDimension) {
  // A 2x3x2 view with strides (1, 4, 2) over 12 int32 values 0..11: element
  // (i, j, k) is storage[i + 4j + 2k], computed here independently.
  std::vector<int32_t> storage(12);
  for (int i = 0; i < 12; ++i) storage[i] = i;
  std::vector<int32_t> out(12, -1);
  std::vector<uint64_t> shape{2, 3, 2}, strides{1, 4, 2};
  gather_strided(std::as_bytes(std::span(storage)), shape, strides, 4, reinterpret_cast<std::byte*>(out.data()));
  size_t n = 0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) EXPECT_EQ(out[n++], i + 4 * j + 2 * k);
}

}  // namespace
}  // namespace wm
