// `weightmap run` and `weightmap cache`: the checksum of the compute pass is
// the same whatever the load strategy; a pipeline runs its components one
// after another and evicts each; --max-memory fails cleanly; cache
// status/evict/warm report and change residency.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <string>

#include "compute/cpu_features.h"
#include "compute_reference.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "lora_test_support.h"
#include "page_cache_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

void write_component(const std::string& path, uint32_t seed, int tensors) {
  SafetensorsWriter w;
  for (int i = 0; i < tensors; ++i) {
    // F32 values from a pattern would include NaNs; small integers are exact.
    std::vector<std::byte> bytes(256 * 512 * 2);
    auto p = test::pattern(bytes.size(), seed + static_cast<uint32_t>(i));
    for (size_t k = 0; k + 1 < bytes.size(); k += 2) {
      bytes[k] = p[k];
      bytes[k + 1] = static_cast<std::byte>(0x3c ^ (static_cast<uint8_t>(p[k + 1]) & 0x83));  // F16 in +-[0.5, 4)
    }
    w.add_tensor(fmt::format("w{}", i), DType::F16, {256, 512}, TensorData::bytes(bytes));
  }
  w.add_tensor("bias", DType::F32, {7}, TensorData::bytes(std::vector<std::byte>(28, std::byte{0x3f})));
  ASSERT_TRUE(w.write(path).ok());
  test::make_cold(path);
}

struct RunFixture : ::testing::Test {
  TempDir dir;
  std::string folder = dir.file("pipe");
  std::string te = folder + "/text_encoder/model.safetensors";
  std::string tr = folder + "/transformer/diffusion_pytorch_model.safetensors";
  simdjson::dom::parser parser;

  void SetUp() override {
    std::filesystem::create_directories(folder + "/text_encoder");
    std::filesystem::create_directories(folder + "/transformer");
    test::write_text(folder + "/model_index.json", R"({"_class_name": "TestPipeline"})");
    write_component(te, 1, 3);
    write_component(tr, 100, 5);
  }

  simdjson::dom::element run_json(const std::string& args, int expect_exit = 0) {
    auto r = test::run_cli("run " + args + " --json");
    EXPECT_EQ(r.exit_code, expect_exit) << args << "\n" << r.err;
    simdjson::dom::element doc;
    auto err = parser.parse(r.out).get(doc);
    EXPECT_EQ(err, simdjson::SUCCESS) << args << "\n" << r.out;
    return doc;
  }
  static std::string checksum(simdjson::dom::element e) { return std::string(std::string_view(e["checksum"])); }
};

// A model with a tensor of every dtype that has a matvec kernel (and a conv
// weight): `run` gives one checksum at every SIMD level WEIGHTMAP_SIMD
// picks, since every level computes with one arithmetic (compute/matvec_kernels.h).
TEST_F(RunFixture, ChecksumIsTheSameAtEverySimdLevelForEveryKernelDType) {
  std::string path = dir.file("every_kernel_dtype.gguf");
  GgufWriter g(3, 32);
  uint64_t seed = 1;
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                  DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    g.add_tensor(fmt::format("w.{}", dtype_name(t)), t, {24, 768}, TensorData::bytes(test::random_weights(t, 24, 768, seed++)));
  g.add_tensor("conv.weight", DType::F16, {16, 8, 3, 3}, TensorData::bytes(test::random_weights(DType::F16, 16, 72, seed++)));
  ASSERT_TRUE(g.write(path).ok());
  std::string portable;
  for (const char* level : {"portable", "avx2", "avx512", "neon"}) {
    if (!simd_level_supported(*simd_level_from_name(level))) continue;
    ASSERT_TRUE(wm::test::set_env("WEIGHTMAP_SIMD", level));
    auto doc = run_json(path);
    ASSERT_TRUE(wm::test::set_env("WEIGHTMAP_SIMD", nullptr));
    simdjson::dom::element stage = doc["stages"].get_array().at(0);
    EXPECT_EQ(std::string_view(stage["simd"]), level);
    EXPECT_EQ(uint64_t(stage["tensors"]), 12u);
    if (portable.empty()) portable = checksum(doc);
    EXPECT_EQ(checksum(doc), portable) << level;
  }
}

// A conv weight's LoRA term ([out] x [in*kh*kw]) fits the pass's view of
// the conv (compute/matrix_view.h): `run` adds it at run time, no warning.
TEST_F(RunFixture, ConvLoraAtRunTimeIsAddedToThePass) {
  std::string base_path = dir.file("conv_base.gguf"), lora_path = dir.file("conv_lora.safetensors");
  GgufWriter g(3, 32);
  g.add_tensor("model.diffusion_model.input_blocks.0.0.weight", DType::F16, {8, 4, 3, 3},
               TensorData::bytes(lora_test::encode(DType::F16, lora_test::random_floats(8 * 36, 1))));
  ASSERT_TRUE(g.write(base_path).ok());
  lora_test::Factors f = lora_test::random_factors(8, 36, 4, 2);
  lora_test::write_lora_safetensors(lora_path, {{"lora_unet_input_blocks_0_0", lora_test::Convention::kKohya, &f, {8, 4, 3, 3}}});
  auto with = test::run_cli(fmt::format("run {} --lora {} --lora-apply-mode at_runtime --json", base_path, lora_path));
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(with.err.find("were not added"), std::string::npos) << with.err;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(with.out).get(doc), simdjson::SUCCESS) << with.out;
  std::string with_lora = checksum(doc);
  EXPECT_NE(with_lora, checksum(run_json(base_path))) << "the LoRA term changed y";
}

TEST_F(RunFixture, ChecksumIsTheSameWhateverTheStrategy) {
  std::string reference;
  for (const char* strategy :
       {"", "--hints none", "--hints populate --prefetch wait", "--prefetch none", "--no-mmap", "--no-mmap --io direct",
        "--no-mmap --io uring", "--device '*=sim'", "--device '*=sim' --io direct", "--type F32", "-t 1"}) {
    auto doc = run_json(tr + " " + strategy);
    auto stages = doc["stages"].get_array();
    ASSERT_EQ(stages.size(), 1u) << strategy;
    simdjson::dom::element s = stages.at(0);
    if (reference.empty()) reference = checksum(doc);
    EXPECT_EQ(checksum(doc), reference) << strategy;
    EXPECT_EQ(checksum(s), reference) << strategy;
    EXPECT_EQ(uint64_t(s["tensors"]), 6u);
    EXPECT_GE(double(s["ttfr_ms"]), double(s["load_ms"])) << strategy;
    EXPECT_GT(double(s["ttfr_ms"]), 0);
  }
}

TEST_F(RunFixture, PipelineRunsComponentsInOrderAndEvictsEach) {
  std::string why;
  bool cold_ok = test::can_make_cold(dir.path(), &why);
  auto doc = run_json(folder + " --pipeline transformer,text_encoder");
  auto stages = doc["stages"].get_array();
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(std::string_view(stages.at(0)["name"]), "transformer");
  EXPECT_EQ(std::string_view(stages.at(1)["name"]), "text_encoder");
  EXPECT_EQ(uint64_t(stages.at(0)["tensors"]), 6u);
  EXPECT_EQ(uint64_t(stages.at(1)["tensors"]), 4u);
  for (auto s : stages) {
    EXPECT_TRUE(bool(s["evicted"]));
    if (cold_ok) {
      EXPECT_LT(uint64_t(s["page_cache_bytes_after_release"]), uint64_t(s["file_bytes"]) / 50);
    }
  }
  EXPECT_GE(double(stages.at(1)["ttfr_ms"]), double(stages.at(0)["ttfr_ms"]));
  EXPECT_EQ(double(doc["ttfr_ms"]), double(stages.at(1)["ttfr_ms"]));

  // A component's checksum is that of its file run alone (names differ,
  // bytes do not); --sequential gives the same stages.
  auto alone = run_json(tr);
  EXPECT_EQ(checksum(stages.at(0)), checksum(alone));
  auto seq = run_json(tr + " " + te + " --sequential");
  ASSERT_EQ(seq["stages"].get_array().size(), 2u);
  EXPECT_EQ(checksum(seq["stages"].get_array().at(0)), checksum(stages.at(0)));
  EXPECT_EQ(checksum(seq["stages"].get_array().at(1)), checksum(stages.at(1)));
  EXPECT_EQ(checksum(seq), checksum(doc));
  EXPECT_NE(checksum(doc), checksum(stages.at(0)));
}

TEST_F(RunFixture, BadPipelinesAndMemoryLimitsFailWithClearMessages) {
  auto unknown = test::run_cli("run " + folder + " --pipeline transformer,unet");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no component 'unet'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("text_encoder"), std::string::npos) << unknown.err;

  auto both = test::run_cli("run " + folder + " --pipeline transformer --sequential");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("exclude"), std::string::npos);

  auto tight = test::run_cli("run " + tr + " --no-mmap --max-memory 1M");
  EXPECT_EQ(tight.exit_code, 1);
  EXPECT_NE(tight.err.find("--max-memory"), std::string::npos) << tight.err;
  EXPECT_NE(tight.err.find(tr), std::string::npos) << tight.err;
#ifdef WM_SANITIZED
  // An ASan+UBSan CLI holds about 65 MiB of anonymous memory (shadow,
  // quarantine) before it loads anything.
  const std::string limit = "256M";
#else
  const std::string limit = "64M";
#endif
  auto mapped = test::run_cli("run " + tr + " --max-memory " + limit);
  EXPECT_EQ(mapped.exit_code, 0) << mapped.err;  // mapped tensors need no anonymous memory

  auto bad_hint = test::run_cli("run " + tr + " --hints sequential,bogus");
  EXPECT_EQ(bad_hint.exit_code, 1);
  EXPECT_NE(bad_hint.err.find("bogus"), std::string::npos);
}

TEST_F(RunFixture, EnvironmentVariableSetsHintsAndTheFlagWins) {
  // Runs `load --json` with WEIGHTMAP_MMAP_HINTS set to `hints` (unset for
  // nullptr) in this process's environment, which the CLI inherits.
  auto load = [&](const char* hints, const std::string& args) {
    EXPECT_TRUE(test::set_env("WEIGHTMAP_MMAP_HINTS", hints));
    auto r = test::run_cli("load " + tr + " --json " + args);
    EXPECT_TRUE(test::set_env("WEIGHTMAP_MMAP_HINTS", nullptr));
    return r;
  };
  auto requested = [&](const test::CommandResult& r) {
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
    return std::string(std::string_view(doc["hints"]["requested"]));
  };
  auto plain = load(nullptr, "");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(requested(plain), "auto");
  auto env = load(" Sequential , WillNeed", "");
  ASSERT_EQ(env.exit_code, 0) << env.err;
  EXPECT_EQ(requested(env), "sequential,willneed");
  auto flag = load("sequential", "--hints none");
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_EQ(requested(flag), "none");
  auto bogus = load("bogus", "");
  EXPECT_EQ(bogus.exit_code, 1);
  EXPECT_NE(bogus.err.find("WEIGHTMAP_MMAP_HINTS: unknown hint 'bogus'"), std::string::npos) << bogus.err;
  EXPECT_EQ(load("bogus", "--hints populate").exit_code, 0);  // the flag wins
}

TEST_F(RunFixture, RunTimeLoraTermsEnterTheComputePass) {
  // A PEFT LoRA of rank 4 on w1 of the transformer (256 x 512).
  std::string lora = dir.file("lora.safetensors");
  SafetensorsWriter w;
  std::vector<std::byte> a(4 * 512 * 4), b(256 * 4 * 4);
  for (size_t k = 0; k < a.size() / 4; ++k) {
    float v = 0.01f * static_cast<float>(k % 7);
    std::memcpy(a.data() + 4 * k, &v, 4);
  }
  for (size_t k = 0; k < b.size() / 4; ++k) {
    float v = 0.02f * static_cast<float>(k % 5);
    std::memcpy(b.data() + 4 * k, &v, 4);
  }
  w.add_tensor("w1.lora_A.weight", DType::F32, {4, 512}, TensorData::bytes(a));
  w.add_tensor("w1.lora_B.weight", DType::F32, {256, 4}, TensorData::bytes(b));
  ASSERT_TRUE(w.write(lora).ok());
  std::string plain = checksum(run_json(tr));
  std::string runtime = checksum(run_json(tr + " --lora " + lora + " --lora-apply-mode at_runtime"));
  std::string merged = checksum(run_json(tr + " --lora " + lora + " --lora-apply-mode immediately"));
  EXPECT_NE(runtime, plain);
  EXPECT_NE(merged, plain);
  // Removing the LoRA's effect: strength 0 adds nothing at run time.
  EXPECT_EQ(checksum(run_json(tr + " --lora " + lora + ":0 --lora-apply-mode at_runtime")), plain);
}

TEST_F(RunFixture, CacheStatusEvictWarm) {
  WM_SKIP_UNDER_QEMU("qemu-user ignores madvise, and mincore does not show what the host cached");
  std::string why;
  if (!test::can_make_cold(dir.path(), &why)) GTEST_SKIP() << why;
  auto status = [&](const std::string& action) {
    auto r = test::run_cli("cache " + action + " " + tr + " --json --tensors");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
    return std::pair<double, uint64_t>(double(doc["files"].get_array().at(0)["fraction"]),
                                       doc["files"].get_array().at(0)["tensors"].get_array().size());
  };
  auto warm = status("warm");
  EXPECT_GT(warm.first, 0.99);
  EXPECT_EQ(warm.second, 6u);
  EXPECT_GT(test::cached_fraction(tr), 0.99);
  auto evicted = status("evict");
  EXPECT_LT(evicted.first, 0.02);
  EXPECT_LT(test::cached_fraction(tr), 0.02);
  EXPECT_LT(status("status").first, 0.05);  // status parses the header: that page may come back
  auto text = test::run_cli("cache status " + tr);
  EXPECT_NE(text.out.find(tr), std::string::npos);
  auto missing = test::run_cli("cache status " + dir.file("nope.gguf"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.gguf"), std::string::npos);
}

}  // namespace
}  // namespace wm
