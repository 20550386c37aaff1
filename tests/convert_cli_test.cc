// `weightmap convert`: the command parses, converts and prints; the text
// lists every tensor and the totals, --json is one valid JSON object on
// success and on failure, and a failure leaves no output file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <simdjson.h>

#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "test_support.h"

namespace wm {
namespace {

using test::run_cli;
using test::TempDir;

class ConvertCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<float> v{1.0f, 0.5f, -2.0f, 1024.0f};
    std::vector<std::byte> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    SafetensorsWriter w;
    w.add_metadata("format", "pt");
    w.add_tensor("enc.weight", DType::F32, {2, 2}, TensorData::bytes(b));
    w.add_tensor("enc.bias", DType::F32, {4}, TensorData::bytes(b));
    ASSERT_TRUE(w.write(dir_.file("in.safetensors")));
  }
  TempDir dir_;
  simdjson::dom::parser parser_;
};

TEST_F(ConvertCli, TextListsEachTensorAndTotals) {
  auto r = run_cli("convert " + dir_.file("in.safetensors") + " " + dir_.file("out.gguf") + " --type '*.weight=F16'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("enc.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F32 -> F16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("converted 2 tensors (1 changed dtype)"), std::string::npos) << r.out;
  auto t = open_model_path(dir_.file("out.gguf"));
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->tensors()[0].dtype, DType::F16);
  // 1.0, 0.5, -2.0, 1024.0 as IEEE halves.
  auto f = test::read_file(dir_.file("out.gguf"));
  std::vector<uint16_t> want{0x3c00, 0x3800, 0xc000, 0x6400}, got(4);
  std::memcpy(got.data(), f.data() + t->tensors()[0].offset, 8);
  EXPECT_EQ(got, want);
}

TEST_F(ConvertCli, JsonOnSuccessAndOnFailure) {
  auto r = run_cli("convert --json " + dir_.file("in.safetensors") + " " + dir_.file("out.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser_.parse(r.out).get(doc)) << r.out;
  EXPECT_TRUE(bool(doc["ok"]));
  EXPECT_EQ(std::string_view(doc["format"]), "safetensors");
  EXPECT_EQ(uint64_t(doc["tensors"]), 2u);
  EXPECT_EQ(uint64_t(doc["metadata_kept"]), 1u);
  EXPECT_EQ(uint64_t(doc["per_tensor"].at(1)["bytes_out"]), 16u);

  r = run_cli("convert --json " + dir_.file("in.safetensors") + " " + dir_.file("bad.gguf") + " --type 'F17'");
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_FALSE(parser_.parse(r.out).get(doc)) << r.out;
  EXPECT_FALSE(bool(doc["ok"]));
  EXPECT_NE(std::string_view(doc["error"]).find("F17"), std::string_view::npos) << r.out;
  EXPECT_NE(r.err.find("weightmap: error:"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("bad.gguf")));
}

TEST_F(ConvertCli, RefusesToOverwriteItsInputAndUnknownFormats) {
  auto r = run_cli("convert " + dir_.file("in.safetensors") + " " + dir_.file("in.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing to overwrite an input"), std::string::npos) << r.err;
  r = run_cli("convert " + dir_.file("in.safetensors") + " " + dir_.file("out.weights"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;
  r = run_cli("convert " + dir_.file("in.safetensors") + " " + dir_.file("out.weights") + " --format gguf");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(open_model_path(dir_.file("out.weights")));
}

}  // namespace
}  // namespace wm
