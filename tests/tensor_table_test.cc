// TensorTable's name index stays consistent by construction: its vectors are
// private, and every way to add or rename tensors (add_tensor, append,
// set_component) keeps find() true at once; a duplicate is kept and reported.
#include <gtest/gtest.h>

#include <stdexcept>

#include "format/tensor_table.h"

namespace wm {
namespace {

TensorTable table_of(const std::string& path, std::vector<std::string> names) {
  TensorTable t;
  FileInfo f;
  f.path = path;
  uint32_t file = t.add_file(f);
  uint64_t offset = 0;
  for (auto& n : names) {
    TensorInfo info;
    info.name = std::move(n);
    info.file = file;
    info.offset = offset;
    info.nbytes = 4;
    offset += 4;
    t.add_tensor(info);
  }
  return t;
}

TEST(TensorTable, AddTensorIndexesAtOnce) {
  TensorTable t = table_of("a.safetensors", {"x", "y"});
  ASSERT_NE(t.find("y"), nullptr);
  EXPECT_EQ(t.find("y")->offset, 4u);
  EXPECT_EQ(t.find("y"), &t.tensors()[1]);
  EXPECT_EQ(t.find("w"), nullptr);
  EXPECT_TRUE(t.check_unique_names().ok());
  EXPECT_EQ(t.total_tensor_bytes(), 8u);
}

TEST(TensorTable, AppendIndexesTheNewTensorsAndRebasesTheirFiles) {
  TensorTable a = table_of("a.safetensors", {"x", "y"});
  a.append(table_of("b.safetensors", {"z"}));
  const TensorInfo* z = a.find("z");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->file, 1u);
  EXPECT_EQ(a.files()[z->file].path, "b.safetensors");
  ASSERT_NE(a.find("x"), nullptr);
  EXPECT_EQ(a.find("x")->file, 0u);
  EXPECT_EQ(a.find("w"), nullptr);
}

TEST(TensorTable, SetComponentReindexesUnderTheQualifiedNames) {
  TensorTable t = table_of("unet/model.safetensors", {"x"});
  t.set_component("unet");
  EXPECT_EQ(t.find("x"), nullptr) << "the bare name is no longer a key";
  ASSERT_NE(t.find("unet.x"), nullptr);
  EXPECT_EQ(t.find("unet.x")->component, "unet");
  EXPECT_EQ(t.files()[0].component, "unet");
}

TEST(TensorTable, ComponentsKeepEqualNamesApart) {
  TensorTable a = table_of("unet/m.safetensors", {"w"});
  a.set_component("unet");
  TensorTable b = table_of("vae/m.safetensors", {"w"});
  b.set_component("vae");
  a.append(std::move(b));
  EXPECT_TRUE(a.check_unique_names().ok());
  ASSERT_NE(a.find("vae.w"), nullptr);
  EXPECT_EQ(a.find("vae.w")->file, 1u);
}

TEST(TensorTable, ADuplicateAcrossAppendedPartsIsReported) {
  TensorTable a = table_of("a.safetensors", {"x"});
  a.append(table_of("b.safetensors", {"x"}));
  Status s = a.check_unique_names();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "b.safetensors");
  EXPECT_EQ(s.error().tensor, "x");
  EXPECT_NE(s.error().message.find("duplicate tensor name (also in 'a.safetensors' at byte 0)"), std::string::npos)
      << s.error().message;
  ASSERT_NE(a.find("x"), nullptr);
  EXPECT_EQ(a.find("x")->file, 0u) << "find() answers the first of a duplicate";
}

TEST(TensorTable, SetComponentKeepsReportingADuplicate) {
  TensorTable a = table_of("m.safetensors", {"x", "x"});
  EXPECT_FALSE(a.check_unique_names().ok());
  TensorTable b = table_of("n.safetensors", {"y"});
  b.append(std::move(a));
  b.set_component("c");  // still "c.x" twice
  EXPECT_FALSE(b.check_unique_names().ok());
}

TEST(TensorTable, ATensorOfAFileNotAddedIsRefused) {
  TensorTable t;
  TensorInfo info;
  info.name = "orphan";
  EXPECT_THROW(t.add_tensor(info), std::out_of_range);
  EXPECT_TRUE(t.tensors().empty());
  EXPECT_EQ(t.find("orphan"), nullptr);
}

}  // namespace
}  // namespace wm
