// `weightmap load --lora ...`: the options reach apply_loras, the per-tensor
// choice and the summary appear in text and JSON, unmatched LoRA tensors are
// warned about, bad options fail with a clear message.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <simdjson.h>

#include "lora_test_support.h"

namespace wm {
namespace {

using namespace lora_test;
using test::run_cli;

class LoraCli : public ::testing::Test {
 protected:
  void SetUp() override {
    GgufWriter w;
    w.add_tensor("model.diffusion_model.proj.weight", DType::F16, {16, 64},
                 TensorData::bytes(encode(DType::F16, random_floats(16 * 64, 1))));
    w.add_tensor("q.weight", DType::Q8_0, {16, 64}, TensorData::bytes(random_blocks(DType::Q8_0, 16 * 64, 2)));
    w.add_tensor("other.weight", DType::F32, {16, 64}, TensorData::bytes(encode(DType::F32, random_floats(16 * 64, 3))));
    ASSERT_TRUE(w.write(dir_.file("base.gguf")).ok());
    f_ = random_factors(16, 64, 4, 4, 2.0f);
    SafetensorsWriter l;
    add_entries(l, {{"lora_unet_proj", Convention::kKohya, &f_, {16, 64}}, {"q", Convention::kPeft, &f_, {16, 64}}});
    l.add_tensor("stray.lora_up.weight", DType::F32, {16, 4}, TensorData::bytes(encode(DType::F32, f_.up)));
    ASSERT_TRUE(l.write(dir_.file("l.safetensors")).ok());
  }
  std::string base() const { return dir_.file("base.gguf"); }
  std::string lora() const { return dir_.file("l.safetensors"); }
  test::TempDir dir_;
  Factors f_;
};

TEST_F(LoraCli, TextShowsPerTensorChoiceAndSummary) {
  auto r = run_cli(fmt::format("load {} --lora {}:0.5 --tensors", base(), lora()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lora: 1 tensors patched (copy-on-write 0.0 MiB), 1 at run time, 1 unmatched"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[lora x1: patched, auto: float base, copy-on-write; scale 0.25]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[lora x1: at_runtime, auto: quantised Q8_0 base; scale 0.25]"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("stray.lora_up.weight"), std::string::npos) << r.err;  // warned
}

TEST_F(LoraCli, JsonCarriesTheChoiceTheSummaryAndTheUnmatched) {
  auto r = run_cli(fmt::format("load --json --tensors {} --lora {} --lora-apply-mode at_runtime", base(), lora()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(uint64_t(doc["lora"]["tensors_at_runtime"]), 2u);
  EXPECT_EQ(uint64_t(doc["lora"]["tensors_patched"]), 0u);
  simdjson::dom::array unmatched = doc["lora"]["unmatched"];
  ASSERT_EQ(unmatched.size(), 1u);
  EXPECT_EQ(std::string_view(unmatched.at(0)["tensor"]), "stray.lora_up.weight");
  size_t with_lora = 0;
  for (simdjson::dom::element t : simdjson::dom::array(doc["per_tensor"])) {
    simdjson::dom::element l;
    if (t["lora"].get(l) != simdjson::SUCCESS) continue;
    ++with_lora;
    EXPECT_EQ(std::string_view(l["action"]), "at_runtime");
  }
  EXPECT_EQ(with_lora, 2u);
}

TEST_F(LoraCli, ImmediatelyOnQ8_0PatchesAndCountsCopyOnWriteBytes) {
  auto r = run_cli(fmt::format("load --json {} --lora {} --lora-apply-mode immediately", base(), lora()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(uint64_t(doc["lora"]["tensors_patched"]), 2u);
  EXPECT_EQ(uint64_t(doc["lora"]["cow_bytes"]), 16u * 64 * 2 + 16u * 2 * 34);
}

TEST_F(LoraCli, BadLoraOptionsFailClearly) {
  auto r = run_cli(fmt::format("load {} --lora {} --lora-apply-mode later", base(), lora()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("lora-apply-mode"), std::string::npos) << r.err;
  r = run_cli(fmt::format("load {} --lora {}", base(), dir_.file("missing.safetensors")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
  r = run_cli(fmt::format("load {} --lora {} --lora-prefix nothing", base(), lora()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("FROM=TO"), std::string::npos) << r.err;
}

TEST_F(LoraCli, UserPrefixRuleMatchesOtherwiseUnmatchedNames) {
  SafetensorsWriter l;
  add_entries(l, {{"net_other", Convention::kKohya, &f_, {16, 64}}});
  ASSERT_TRUE(l.write(dir_.file("p.safetensors")).ok());
  auto without = run_cli(fmt::format("load {} --lora {}", base(), dir_.file("p.safetensors")));
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_NE(without.out.find("0 tensors patched"), std::string::npos) << without.out;
  auto with = run_cli(fmt::format("load {} --lora {} --lora-prefix net_=", base(), dir_.file("p.safetensors")));
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_NE(with.out.find("1 tensors patched"), std::string::npos) << with.out;
}

}  // namespace
}  // namespace wm
