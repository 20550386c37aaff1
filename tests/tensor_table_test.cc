// TensorTable's name index stays consistent by construction: append()
// indexes what it adds (no stale lookups between append and index_names),
// rebases file indices, and a duplicate across the parts is still reported.
#include <gtest/gtest.h>

#include "format/tensor_table.h"

namespace wm {
namespace {

TensorTable table_of(const std::string& path, std::vector<std::string> names) {
  TensorTable t;
  FileInfo f;
  f.path = path;
  t.files.push_back(f);
  uint64_t offset = 0;
  for (auto& n : names) {
    TensorInfo info;
    info.name = std::move(n);
    info.offset = offset;
    info.nbytes = 4;
    offset += 4;
    t.tensors.push_back(info);
  }
  return t;
}

TEST(TensorTable, AppendIndexesTheNewTensorsAndRebasesTheirFiles) {
  TensorTable a = table_of("a.safetensors", {"x", "y"});
  ASSERT_TRUE(a.index_names().ok());
  a.append(table_of("b.safetensors", {"z"}));
  const TensorInfo* z = a.find("z");  // no index_names() call in between
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->file, 1u);
  EXPECT_EQ(a.files[z->file].path, "b.safetensors");
  ASSERT_NE(a.find("x"), nullptr);
  EXPECT_EQ(a.find("x")->file, 0u);
  EXPECT_EQ(a.find("w"), nullptr);
}

TEST(TensorTable, ADuplicateAcrossAppendedPartsIsReportedByIndexNames) {
  TensorTable a = table_of("a.safetensors", {"x"});
  a.append(table_of("b.safetensors", {"x"}));
  Status s = a.index_names();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "b.safetensors");
  EXPECT_EQ(s.error().tensor, "x");
  EXPECT_NE(s.error().message.find("duplicate tensor name"), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace wm
