// LoadedModel's write access is narrow and typed: writable_bytes() gives the
// host memory of copied tensors (exactly host_data's bytes) and nothing for
// mapped ones, whose bytes are the file's. Checked on a real load of a file
// the test writes.
#include <gtest/gtest.h>

#include <cstring>

#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "load/loader.h"
#include "test_support.h"

namespace wm {
namespace {

TEST(LoadedModel, WritableBytesAreTheCopiesHostMemoryAndNoneForMappedTensors) {
  test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  SafetensorsWriter w;
  w.add_tensor("mapped", DType::F32, {16}, TensorData::bytes(test::pattern(64, 1)));
  w.add_tensor("copied", DType::F32, {16}, TensorData::bytes(test::pattern(64, 2)));
  ASSERT_TRUE(w.write(path).ok());
  auto table = open_model({path});
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  LoadOptions options;
  auto rules = NameRules::parse("copied=F16");  // converted: a host copy
  ASSERT_TRUE(rules.ok()) << rules.error().to_string();
  options.plan.type_rules = std::move(rules.value());
  auto model = load_model(std::move(table.value()), options);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  for (size_t i = 0; i < model->tensors().size(); ++i) {
    const Tensor& t = model->tensors()[i];
    SCOPED_TRACE(t.name);
    std::span<std::byte> bytes = model->writable_bytes(i);
    if (t.name == "mapped") {
      EXPECT_EQ(t.placement, Placement::kMap);
      EXPECT_TRUE(bytes.empty());
    } else {
      EXPECT_EQ(t.placement, Placement::kConvert);
      EXPECT_EQ(bytes.data(), t.host_data);
      EXPECT_EQ(bytes.size(), t.nbytes);
      EXPECT_EQ(t.nbytes, 32u);
    }
  }
  EXPECT_EQ(model->generation(), 0u);
  model->advance_generation({1});
  EXPECT_EQ(model->generation(), 1u);
  EXPECT_EQ(model->tensors()[1].generation, 1u);
  EXPECT_EQ(model->tensors()[0].generation, 0u);
}

}  // namespace
}  // namespace wm
