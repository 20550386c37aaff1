// How strongly each LoRA pair is applied (scale = strength * alpha / r, or
// alpha / sqrt(r) for rsLoRA), on generated base models and adapters:
//  - PEFT adapters (adapter_model.safetensors beside adapter_config.json, laid
//    out as save_pretrained does): r, lora_alpha, rank_pattern, alpha_pattern
//    and use_rslora are honoured per module, the scale used is reported per
//    tensor, and a config that cannot be honoured is refused naming it;
//  - kohya ".alpha" tensors in any numeric dtype (integer scalars included).
// Patched values are checked against the double-precision reference merge.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "format/model_path.h"
#include "load/loader.h"
#include "lora/apply.h"
#include "lora_test_support.h"

namespace wm {
namespace {

using namespace lora_test;
using test::TempDir;

constexpr uint64_t kRows = 16, kCols = 64;
const char* const kModules[] = {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                                "model.layers.1.self_attn.v_proj"};

// A safetensors base model with one F32 kRows x kCols weight per module.
struct Base {
  std::string path;
  std::vector<std::vector<float>> weights;  // in kModules order
};

Base write_base(const TempDir& dir) {
  Base b;
  SafetensorsWriter w;
  uint64_t seed = 1000;
  for (const char* m : kModules) {
    b.weights.push_back(random_floats(kRows * kCols, seed++));
    w.add_tensor(std::string(m) + ".weight", DType::F32, {kRows, kCols}, TensorData::bytes(encode(DType::F32, b.weights.back())));
  }
  b.path = dir.file("base.safetensors");
  Status s = w.write(b.path);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return b;
}

LoadedModel load(const std::string& path) {
  auto table = open_model({path});
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  auto model = load_model(std::move(table.value()), LoadOptions{});
  EXPECT_TRUE(model.ok()) << model.error().to_string();
  return std::move(model.value());
}

struct Applied {
  Result<LoraReport> report = Error{};
  std::vector<std::string> warnings;
};

Applied apply_lora(LoadedModel& m, const std::string& lora, float strength = 1.0f) {
  Applied a;
  LoraOptions o;
  o.mode = LoraApplyMode::kImmediately;
  o.log = Logger([&](LogLevel level, std::string_view msg) {
    if (level == LogLevel::kWarn) a.warnings.emplace_back(msg);
  });
  a.report = apply_loras(m, {{lora, strength}}, o);
  return a;
}

size_t index_of(const LoadedModel& m, const std::string& name) {
  for (size_t i = 0; i < m.tensors().size(); ++i)
    if (m.tensors()[i].name == name) return i;
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

// Module k of the base, patched by `f` (nullptr: untouched), against the reference.
void expect_module(const LoadedModel& m, const Base& b, size_t k, const Factors* f) {
  const Tensor& t = m.tensors()[index_of(m, std::string(kModules[k]) + ".weight")];
  std::vector<double> file(b.weights[k].begin(), b.weights[k].end());
  std::vector<double> want = f ? reference_merge(file, kRows, kCols, {f}) : file;
  expect_merged(DType::F32, decode(DType::F32, t.host_data, t.nbytes), want, kModules[k]);
}

// The scales the report gives for module k's weight.
std::vector<float> reported_scales(const LoraReport& r, size_t k) {
  for (const auto& t : r.tensors)
    if (t.name == std::string(kModules[k]) + ".weight") return t.scales;
  ADD_FAILURE() << "no report for " << kModules[k];
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// --- PEFT --------------------------------------------------------------------

TEST(LoraScalePeft, LoraAlphaOverRFromTheConfigBesideTheAdapter) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 1, 8.0f);  // r 4, lora_alpha 8: scale 2
  Factors v = random_factors(kRows, kCols, 4, 3, 8.0f);
  std::string adapter = write_peft_adapter(
      dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}, {kModules[2], Convention::kPeft, &v, {kRows, kCols}}},
      peft_config(4, 8));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  EXPECT_TRUE(a.warnings.empty()) << a.warnings[0];
  EXPECT_EQ(a.report->tensors_patched, 2u);
  expect_module(m, b, 0, &q);
  expect_module(m, b, 1, nullptr);
  expect_module(m, b, 2, &v);
  EXPECT_EQ(reported_scales(*a.report, 0), std::vector<float>{2.0f});
  EXPECT_EQ(reported_scales(*a.report, 2), std::vector<float>{2.0f});
}

TEST(LoraScalePeft, StrengthMultipliesTheConfigScale) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 5, 8.0f, 0.25);
  std::string adapter =
      write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}}, peft_config(4, 8));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter, 0.25f);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  EXPECT_EQ(reported_scales(*a.report, 0), std::vector<float>{0.5f});
}

TEST(LoraScalePeft, RankAndAlphaPatternsOverrideTheDefaultsPerModule) {
  TempDir dir;
  Base b = write_base(dir);
  // q_proj: alpha_pattern by its full name -> alpha 2, r 4: scale 0.5.
  // k_proj: the defaults, r 4 and alpha 8: scale 2.
  // v_proj: rank_pattern by a regex on its last parts -> r 2; alpha_pattern
  //         "v_proj" -> 12: scale 6.
  Factors q = random_factors(kRows, kCols, 4, 7, 2.0f);
  Factors k = random_factors(kRows, kCols, 4, 9, 8.0f);
  Factors v = random_factors(kRows, kCols, 2, 11, 12.0f);
  std::string adapter = write_peft_adapter(dir.path(),
                                           {{kModules[0], Convention::kPeft, &q, {kRows, kCols}},
                                            {kModules[1], Convention::kPeft, &k, {kRows, kCols}},
                                            {kModules[2], Convention::kPeft, &v, {kRows, kCols}}},
                                           peft_config(4, 8,
                                                       {R"("alpha_pattern": {"model.layers.0.self_attn.q_proj": 2, "v_proj": 12})",
                                                        R"("rank_pattern": {"layers\\.[1-9]\\.self_attn\\.v_proj": 2})"}));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  expect_module(m, b, 1, &k);
  expect_module(m, b, 2, &v);
  EXPECT_EQ(reported_scales(*a.report, 0), std::vector<float>{0.5f});
  EXPECT_EQ(reported_scales(*a.report, 1), std::vector<float>{2.0f});
  EXPECT_EQ(reported_scales(*a.report, 2), std::vector<float>{6.0f});
}

TEST(LoraScalePeft, PatternsMatchWholeNamePartsOnly) {
  // PEFT matches "(.*\.)?(pattern)$": "proj" does not match "q_proj".
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 13, 8.0f);
  std::string adapter = write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}},
                                           peft_config(4, 8, {R"("alpha_pattern": {"proj": 100})"}));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  EXPECT_EQ(reported_scales(*a.report, 0), std::vector<float>{2.0f});
}

TEST(LoraScalePeft, RsLoraDividesAlphaBySqrtR) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 15, 8.0f);
  q.rslora = true;  // 8 / sqrt(4) = 4
  std::string adapter = write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}},
                                           peft_config(4, 8, {R"("use_rslora": true)"}));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  EXPECT_EQ(reported_scales(*a.report, 0), std::vector<float>{4.0f});
}

TEST(LoraScalePeft, AnAdapterWithoutItsConfigIsAppliedAtAlphaEqualsRankWithAWarning) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 17);  // no alpha: scale 1
  std::string adapter = write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}}, "");
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  ASSERT_EQ(a.warnings.size(), 1u);
  EXPECT_TRUE(contains(a.warnings[0], "adapter_config.json")) << a.warnings[0];
  EXPECT_TRUE(contains(a.warnings[0], adapter)) << a.warnings[0];
}

TEST(LoraScalePeft, AConfigBesideAnotherFileIsNotUsedAndSaysSo) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 19);
  std::string adapter =
      write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}}, peft_config(4, 8));
  std::string renamed = dir.file("style.safetensors");
  ASSERT_EQ(std::rename(adapter.c_str(), renamed.c_str()), 0);
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, renamed);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  ASSERT_EQ(a.warnings.size(), 1u);
  EXPECT_TRUE(contains(a.warnings[0], "adapter_config.json")) << a.warnings[0];
}

struct BadConfig {
  const char* label;
  std::string config;
  const char* message;  // part of the error
};

class LoraScalePeftBad : public ::testing::TestWithParam<BadConfig> {};

TEST_P(LoraScalePeftBad, IsRefusedNamingTheConfigAndChangesNothing) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 21);
  std::string adapter =
      write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}}, GetParam().config);
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_FALSE(a.report.ok());
  EXPECT_EQ(a.report.error().file, dir.file("adapter_config.json"));
  EXPECT_TRUE(contains(a.report.error().message, GetParam().message)) << a.report.error().to_string();
  expect_module(m, b, 0, nullptr);
  EXPECT_EQ(lora_report(m), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    All, LoraScalePeftBad,
    ::testing::Values(BadConfig{"not_json", "{\"r\": 4,", "not valid JSON"},
                      BadConfig{"not_object", "[4]", "not a JSON object"},
                      BadConfig{"duplicate_key", "{\"r\": 4, \"lora_alpha\": 8, \"r\": 8}", "\"r\" twice"},
                      BadConfig{"r_not_a_number", peft_config(4, 8, {R"("r": "4")"}), "\"r\""},
                      BadConfig{"r_zero", peft_config(0, 8), "\"r\""},
                      BadConfig{"alpha_string", peft_config(4, 8, {R"("lora_alpha": "8")"}), "\"lora_alpha\""},
                      BadConfig{"bad_regex", peft_config(4, 8, {R"("rank_pattern": {"q_proj(": 4})"}), "q_proj("},
                      BadConfig{"dora", peft_config(4, 8, {R"("use_dora": true)"}), "use_dora"},
                      BadConfig{"fan_in_fan_out", peft_config(4, 8, {R"("fan_in_fan_out": true)"}), "fan_in_fan_out"},
                      BadConfig{"lora_bias", peft_config(4, 8, {R"("lora_bias": true)"}), "lora_bias"},
                      BadConfig{"loha", peft_config(4, 8, {R"("peft_type": "LOHA")"}), "LOHA"}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(LoraScalePeft, AConfigRankThatDisagreesWithTheFactorsIsRefusedNamingTheTensor) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 23);
  std::string adapter =
      write_peft_adapter(dir.path(), {{kModules[0], Convention::kPeft, &q, {kRows, kCols}}}, peft_config(8, 16));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_FALSE(a.report.ok());
  EXPECT_EQ(a.report.error().file, adapter);
  EXPECT_EQ(a.report.error().tensor, std::string("base_model.model.") + kModules[0] + ".lora_A.weight");
  EXPECT_TRUE(a.report.error().offset.has_value());
  EXPECT_TRUE(contains(a.report.error().message, "adapter_config.json")) << a.report.error().message;
  expect_module(m, b, 0, nullptr);
}

// An adapter_model.safetensors that also carries an ".alpha" tensor for q_proj.
std::string write_peft_with_alpha(const TempDir& dir, const Factors& f, float alpha, const std::string& config) {
  SafetensorsWriter w;
  FactorNames n = names_for(Convention::kPeft, std::string("base_model.model.") + kModules[0]);
  w.add_tensor(n.down, DType::F32, {f.rank, kCols}, TensorData::bytes(encode(DType::F32, f.down)));
  w.add_tensor(n.up, DType::F32, {kRows, f.rank}, TensorData::bytes(encode(DType::F32, f.up)));
  w.add_tensor(n.alpha, DType::F32, {}, TensorData::bytes(encode(DType::F32, {alpha})));
  std::string path = dir.file("adapter_model.safetensors");
  Status s = w.write(path);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  test::write_text(dir.file("adapter_config.json"), config);
  return path;
}

TEST(LoraScalePeft, AnAlphaTensorThatAgreesWithTheConfigIsAccepted) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 31, 8.0f);
  std::string adapter = write_peft_with_alpha(dir, q, 8.0f, peft_config(4, 8));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
}

TEST(LoraScalePeft, AnAlphaTensorThatDisagreesWithTheConfigIsRefusedNamingBoth) {
  // PEFT would apply lora_alpha 8, a kohya-style reader the tensor's 4.
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 33);
  std::string adapter = write_peft_with_alpha(dir, q, 4.0f, peft_config(4, 8));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, adapter);
  ASSERT_FALSE(a.report.ok());
  EXPECT_EQ(a.report.error().file, adapter);
  EXPECT_EQ(a.report.error().tensor, std::string("base_model.model.") + kModules[0] + ".alpha");
  EXPECT_TRUE(a.report.error().offset.has_value());
  EXPECT_TRUE(contains(a.report.error().message, "adapter_config.json")) << a.report.error().message;
  expect_module(m, b, 0, nullptr);
}

// --- kohya .alpha tensors -------------------------------------------------------

// The bytes of `value` stored as a 0-d tensor of `t`.
std::vector<std::byte> scalar_bytes(DType t, double value) {
  auto raw = [](auto v) {
    std::vector<std::byte> b(sizeof v);
    std::memcpy(b.data(), &v, sizeof v);
    return b;
  };
  switch (t) {
    case DType::I64: return raw(static_cast<int64_t>(value));
    case DType::I32: return raw(static_cast<int32_t>(value));
    case DType::I16: return raw(static_cast<int16_t>(value));
    case DType::I8: return raw(static_cast<int8_t>(value));
    case DType::U8: return raw(static_cast<uint8_t>(value));
    case DType::F64: return raw(value);
    case DType::BOOL: return raw(static_cast<uint8_t>(value != 0));
    default: return encode(t, {static_cast<float>(value)});
  }
}

std::string write_kohya(const TempDir& dir, const Factors& f, DType alpha_type, double alpha,
                        std::vector<uint64_t> alpha_shape = {}) {
  SafetensorsWriter w;
  FactorNames n = names_for(Convention::kKohya, "lora_unet_model_layers_0_self_attn_q_proj");
  w.add_tensor(n.down, DType::F32, {f.rank, kCols}, TensorData::bytes(encode(DType::F32, f.down)));
  w.add_tensor(n.up, DType::F32, {kRows, f.rank}, TensorData::bytes(encode(DType::F32, f.up)));
  w.add_tensor(n.alpha, alpha_type, alpha_shape, TensorData::bytes(scalar_bytes(alpha_type, alpha)));
  std::string path = dir.file("kohya.safetensors");
  Status s = w.write(path);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return path;
}

class LoraScaleAlphaDtype : public ::testing::TestWithParam<DType> {};

TEST_P(LoraScaleAlphaDtype, AnAlphaScalarOfThisDtypeIsReadExactly) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 25, 2.0f);  // alpha 2 / r 4: scale 0.5
  std::string lora = write_kohya(dir, q, GetParam(), 2.0);
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, lora);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
  EXPECT_EQ(reported_scales(*a.report, 0), std::vector<float>{0.5f});
}

INSTANTIATE_TEST_SUITE_P(All, LoraScaleAlphaDtype,
                         ::testing::Values(DType::I64, DType::I32, DType::I16, DType::I8, DType::U8, DType::F16,
                                           DType::BF16, DType::F32, DType::F64),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

TEST(LoraScaleAlpha, AFileWithItsOwnAlphasBesideAPeftConfigIsNotWarnedAbout) {
  // e.g. llama.cpp's GGUF conversion written into the PEFT folder: the file
  // says its own alpha, the config describes adapter_model.safetensors.
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 35, 2.0f);
  std::string lora = write_kohya(dir, q, DType::F32, 2.0);
  test::write_text(dir.file("adapter_config.json"), peft_config(4, 8));
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, lora);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  EXPECT_TRUE(a.warnings.empty()) << a.warnings[0];
  expect_module(m, b, 0, &q);
}

TEST(LoraScaleAlpha, AnAlphaOfOneElementShapedOneIsAccepted) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 27, 8.0f);
  std::string lora = write_kohya(dir, q, DType::I64, 8.0, {1});
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, lora);
  ASSERT_TRUE(a.report.ok()) << a.report.error().to_string();
  expect_module(m, b, 0, &q);
}

struct BadAlpha {
  const char* label;
  DType dtype;
  double value;
  std::vector<uint64_t> shape;
  const char* message;
};

class LoraScaleAlphaBad : public ::testing::TestWithParam<BadAlpha> {};

TEST_P(LoraScaleAlphaBad, IsRefusedNamingFileTensorAndOffset) {
  TempDir dir;
  Base b = write_base(dir);
  Factors q = random_factors(kRows, kCols, 4, 29);
  const BadAlpha& p = GetParam();
  std::string lora = dir.file("kohya.safetensors");
  {
    SafetensorsWriter w;
    FactorNames n = names_for(Convention::kKohya, "lora_unet_model_layers_0_self_attn_q_proj");
    w.add_tensor(n.down, DType::F32, {q.rank, kCols}, TensorData::bytes(encode(DType::F32, q.down)));
    w.add_tensor(n.up, DType::F32, {kRows, q.rank}, TensorData::bytes(encode(DType::F32, q.up)));
    std::vector<std::byte> bytes;
    uint64_t count = 1;
    for (auto d : p.shape) count *= d;
    for (uint64_t i = 0; i < count; ++i) {
      auto one = scalar_bytes(p.dtype, p.value);
      bytes.insert(bytes.end(), one.begin(), one.end());
    }
    w.add_tensor(n.alpha, p.dtype, p.shape, TensorData::bytes(bytes));
    ASSERT_TRUE(w.write(lora).ok());
  }
  LoadedModel m = load(b.path);
  Applied a = apply_lora(m, lora);
  ASSERT_FALSE(a.report.ok());
  EXPECT_EQ(a.report.error().file, lora);
  EXPECT_EQ(a.report.error().tensor, "lora_unet_model_layers_0_self_attn_q_proj.alpha");
  EXPECT_TRUE(a.report.error().offset.has_value());
  EXPECT_TRUE(contains(a.report.error().message, p.message)) << a.report.error().to_string();
  expect_module(m, b, 0, nullptr);
}

INSTANTIATE_TEST_SUITE_P(All, LoraScaleAlphaBad,
                         ::testing::Values(BadAlpha{"nan", DType::F32, std::nan(""), {}, "not a finite"},
                                           BadAlpha{"inf_f16", DType::F16, INFINITY, {}, "not a finite"},
                                           BadAlpha{"two_values", DType::F32, 1.0, {2}, "one value"},
                                           BadAlpha{"bool", DType::BOOL, 1.0, {}, "BOOL"}),
                         [](const auto& p) { return std::string(p.param.label); });

}  // namespace
}  // namespace wm
