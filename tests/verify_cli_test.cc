// `weightmap verify`: a clean model exits 0 and says so, in text and JSON,
// mapped, copied, on the sim device and converted; bad input exits 1.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "compute_reference.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"

namespace wm {
namespace {

using test::run_cli;
using test::TempDir;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class VerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    GgufWriter g(3, 32);
    g.add_tensor("w_f16", DType::F16, {8, 64}, TensorData::bytes(test::random_weights(DType::F16, 8, 64, 1)));
    g.add_tensor("w_q8", DType::Q8_0, {4, 64}, TensorData::bytes(test::random_weights(DType::Q8_0, 4, 64, 2)));
    SafetensorsWriter s;
    s.add_tensor("b_odd", DType::BF16, {3}, TensorData::bytes(test::random_weights(DType::BF16, 1, 3, 3)));
    s.add_tensor("w_f32", DType::F32, {2, 9}, TensorData::bytes(test::random_weights(DType::F32, 2, 9, 4)));
    ASSERT_TRUE(g.write(dir_.file("a.gguf")).ok());
    ASSERT_TRUE(s.write(dir_.file("b.safetensors")).ok());
    args_ = fmt::format(" {} {}", dir_.file("a.gguf"), dir_.file("b.safetensors"));
  }
  TempDir dir_;
  std::string args_;
};

TEST_F(VerifyCli, CleanModelExitsZeroInEveryMode) {
  for (const char* mode : {"", "--no-mmap", "--device sim", "--type 'w_*=F32'"}) {
    SCOPED_TRACE(mode);
    auto r = run_cli(fmt::format("verify {}{}", mode, args_));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "verified 4 tensors")) << r.out;
    EXPECT_TRUE(contains(r.out, "all match their files")) << r.out;
    EXPECT_FALSE(contains(r.out, "MISMATCH")) << r.out;
  }
}

TEST_F(VerifyCli, JsonListsEveryTensorAndNoMismatch) {
  auto r = run_cli(fmt::format("verify --json --type 'w_q8=F16'{}", args_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(r.out).get(doc)) << r.out;
  EXPECT_TRUE(doc["ok"].get_bool().value());
  EXPECT_EQ(doc["tensors"].get_uint64().value(), 4u);
  EXPECT_EQ(doc["failed"].get_uint64().value(), 0u);
  EXPECT_EQ(doc["mismatches"].get_array().size(), 0u);
  int values = 0;
  for (simdjson::dom::element t : doc["per_tensor"].get_array()) {
    EXPECT_TRUE(t["ok"].get_bool().value());
    std::string_view check = t["check"].get_string().value();
    if (check == "values") {
      ++values;
      EXPECT_EQ(t["name"].get_string().value(), "w_q8");
    } else {
      EXPECT_EQ(check, "bytes");
      EXPECT_EQ(t["loaded_xxh3"].get_string().value(), t["file_xxh3"].get_string().value());
    }
  }
  EXPECT_EQ(values, 1);
}

TEST_F(VerifyCli, MissingFileExitsOne) {
  auto r = run_cli(fmt::format("verify {}", dir_.file("nope.gguf")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "nope.gguf")) << r.err;
}

}  // namespace
}  // namespace wm
