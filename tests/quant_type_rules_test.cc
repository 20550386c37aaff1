// `--type F16` on a K-quant model, end to end through the public API: a
// GGUF with Q4_K, Q5_K and Q6_K tensors opened with type rules "*=F16" gives
// each tensor's gguf-py dequantisation rounded to F16 by numpy (fixtures:
// scripts/make_quant_fixtures.py), byte for byte.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "weightmap/weightmap.hpp"

#include "format/gguf_writer.h"
#include "test_support.h"

namespace wm {
namespace {

std::vector<std::byte> fixture(const std::string& name) {
  return test::read_file((std::filesystem::path(WM_SOURCE_DIR) / "tests/data/quants" / name).string());
}

TEST(QuantTypeRules, KQuantTensorsLoadAsF16EqualToTheReference) {
  test::TempDir dir;
  const DType types[] = {DType::Q4_K, DType::Q5_K, DType::Q6_K};
  GgufWriter w;
  w.add_metadata("general.architecture", MetaValue::str("llama"));
  for (DType t : types) {
    std::vector<std::byte> blocks = fixture(std::string(dtype_name(t)) + ".bin");
    const uint64_t rows = blocks.size() / dtype_block_bytes(t);  // one 256-element block per row: 11 rows
    w.add_tensor(std::string(dtype_name(t)) + ".weight", t, {rows, 256}, TensorData::bytes(std::move(blocks)));
  }
  const std::string path = dir.file("k.gguf");
  ASSERT_TRUE(w.write(path).ok());

  Options options;
  options.type_rules = "*=F16";
  auto model = wm::open(path, options);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  for (DType t : types) {
    const std::string name = std::string(dtype_name(t)) + ".weight";
    const Tensor* tensor = model->find(name);
    ASSERT_NE(tensor, nullptr) << name;
    EXPECT_EQ(tensor->dtype, DType::F16) << name;
    const std::vector<std::byte> want = fixture(std::string(dtype_name(t)) + ".f16");
    ASSERT_EQ(tensor->nbytes, want.size()) << name;
    ASSERT_NE(tensor->host_data, nullptr) << name;
    for (size_t i = 0; i < want.size() / 2; ++i) {
      uint16_t got, expected;
      std::memcpy(&got, tensor->host_data + 2 * i, 2);
      std::memcpy(&expected, want.data() + 2 * i, 2);
      ASSERT_EQ(got, expected) << name << " element " << i;
    }
  }
}

}  // namespace
}  // namespace wm
