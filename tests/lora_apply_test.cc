// LoadedModel::apply_loras end to end on generated base and LoRA files: patched
// tensors equal a double-precision reference merge within dtype tolerance
// for every naming convention, dtype and placement (mapped copy-on-write,
// host copy, converted copy, sim device); untouched tensors stay on the
// shared mapping, byte-identical; remove and swap give the file's bytes
// back; at_runtime output equals immediately's.
#include <gtest/gtest.h>

#include <map>

#include "format/model_path.h"
#include "load/loader.h"
#include "lora/runtime_term.h"
#include "lora_test_support.h"
#include "lora/apply.h"

namespace wm {
namespace {

using namespace lora_test;
using test::TempDir;

struct BaseTensor {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  std::vector<std::byte> bytes;
  uint64_t rows() const { return shape[0]; }
  uint64_t cols() const {
    uint64_t n = 1;
    for (size_t k = 1; k < shape.size(); ++k) n *= shape[k];
    return n;
  }
};

BaseTensor make_tensor(std::string name, DType t, std::vector<uint64_t> shape, uint64_t seed) {
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<std::byte> b;
  if (t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K) {
    b = random_blocks(t, n, seed);
  } else if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
    b = encode(t, random_floats(n, seed));
  } else {  // other block types: any bytes (at_runtime never decodes them)
    b = test::pattern(tensor_nbytes(t, shape).nbytes.value(), static_cast<uint32_t>(seed));
  }
  return {std::move(name), t, std::move(shape), std::move(b)};
}

std::string write_base(const TempDir& dir, const std::vector<BaseTensor>& ts, const std::string& name = "base.gguf") {
  GgufWriter w;
  for (const auto& t : ts) w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(t.bytes));
  std::string path = dir.file(name);
  Status s = w.write(path);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return path;
}

LoadedModel load(const std::string& path, bool mmap = true, const std::string& devices = "", const std::string& types = "") {
  auto table = open_model({path});
  EXPECT_TRUE(table.ok()) << table.error().to_string();
  LoadOptions o;
  o.plan.use_mmap = mmap;
  o.plan.device_rules = NameRules::parse(devices).value();
  o.plan.type_rules = NameRules::parse(types).value();
  auto model = load_model(std::move(table.value()), o);
  EXPECT_TRUE(model.ok()) << model.error().to_string();
  return std::move(model.value());
}

size_t index_of(const LoadedModel& m, const std::string& name) {
  for (size_t i = 0; i < m.tensors().size(); ++i)
    if (m.tensors()[i].name == name) return i;
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

// The tensor's bytes as the engine sees them (host pointer or device download).
std::vector<std::byte> bytes_of(const LoadedModel& m, const std::string& name) {
  const Tensor& t = m.tensors()[index_of(m, name)];
  std::vector<std::byte> b(t.nbytes);
  if (t.on_device) EXPECT_TRUE(m.read_bytes(static_cast<size_t>(&t - m.tensors().data()), 0, b.data(), b.size()).ok());
  else std::memcpy(b.data(), t.host_data, t.nbytes);
  return b;
}

Result<LoraReport> apply(LoadedModel& m, const std::vector<LoraSpec>& specs, LoraApplyMode mode = LoraApplyMode::kImmediately) {
  LoraOptions o;
  o.mode = mode;
  return apply_loras(m, specs, o);
}

void expect_patched(const LoadedModel& m, const BaseTensor& t, const std::vector<const Factors*>& loras) {
  std::vector<double> want = reference_merge(decode(t.dtype, t.bytes), t.rows(), t.cols(), loras);
  expect_merged(t.dtype, decode(t.dtype, bytes_of(m, t.name)), want, t.name);
}

void expect_file_bytes(const LoadedModel& m, const BaseTensor& t) {
  EXPECT_TRUE(bytes_of(m, t.name) == t.bytes) << t.name << " differs from the file";
}

// --- naming conventions ------------------------------------------------------

struct ConventionCase {
  const char* label;
  Convention convention;
  bool gguf_lora;
  std::vector<std::pair<std::string, std::string>> base_and_stem;  // base tensor name, LoRA stem
};

class LoraConventions : public ::testing::TestWithParam<ConventionCase> {};

TEST_P(LoraConventions, PatchMatchesReferenceAndRemoveRestoresTheFile) {
  const ConventionCase& c = GetParam();
  TempDir dir;
  std::vector<BaseTensor> base;
  uint64_t seed = 100;
  for (const auto& [name, stem] : c.base_and_stem) base.push_back(make_tensor(name, DType::F32, {16, 64}, seed++));
  base.push_back(make_tensor("untouched.weight", DType::F32, {16, 64}, seed++));
  std::string base_path = write_base(dir, base);
  std::vector<Factors> factors;
  for (size_t k = 0; k < c.base_and_stem.size(); ++k)
    factors.push_back(random_factors(16, 64, 4, 500 + k, k == 0 ? std::optional<float>(2.0f) : std::nullopt, 0.7));
  std::vector<LoraEntry> entries;
  for (size_t k = 0; k < c.base_and_stem.size(); ++k)
    entries.push_back({c.base_and_stem[k].second, c.convention, &factors[k], {16, 64}});
  std::string lora = dir.file(c.gguf_lora ? "lora.gguf" : "lora.safetensors");
  if (c.gguf_lora) write_lora_gguf(lora, entries);
  else write_lora_safetensors(lora, entries);

  LoadedModel m = load(base_path);
  const std::byte* untouched_before = m.tensors()[index_of(m, "untouched.weight")].host_data;
  auto r = apply(m, {{lora, 0.7f}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->tensors_patched, c.base_and_stem.size());
  EXPECT_TRUE(r->unmatched.empty());
  for (size_t k = 0; k < c.base_and_stem.size(); ++k) expect_patched(m, base[k], {&factors[k]});
  // Untouched: the same pointer into the shared mapping, the file's bytes.
  EXPECT_EQ(m.tensors()[index_of(m, "untouched.weight")].host_data, untouched_before);
  expect_file_bytes(m, base.back());

  ASSERT_TRUE(remove_loras(m).ok());
  for (const auto& t : base) expect_file_bytes(m, t);
  EXPECT_EQ(lora_report(m), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    All, LoraConventions,
    ::testing::Values(
        ConventionCase{"peft", Convention::kPeft, false,
                       {{"model.layers.0.q_proj.weight", "base_model.model.model.layers.0.q_proj"},
                        {"model.layers.0.v_proj.weight", "model.layers.0.v_proj"}}},
        ConventionCase{"kohya", Convention::kKohya, false,
                       {{"model.diffusion_model.input_blocks.1.1.proj_in.weight", "lora_unet_input_blocks_1_1_proj_in"},
                        {"cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight",
                         "lora_te_text_model_encoder_layers_0_mlp_fc1"}}},
        ConventionCase{"diffusers", Convention::kDiffusers, false,
                       {{"transformer_blocks.0.attn.to_q.weight", "transformer_blocks.0.attn.to_q"}}},
        ConventionCase{"llama_cpp_gguf", Convention::kLlamaCpp, true,
                       {{"blk.0.attn_q.weight", "blk.0.attn_q.weight"}, {"blk.0.ffn_up.weight", "blk.0.ffn_up.weight"}}}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(LoraApply, KohyaConvWeightIsPatchedThroughFlattenedFactors) {
  TempDir dir;
  BaseTensor conv = make_tensor("model.diffusion_model.input_blocks.0.0.weight", DType::F16, {8, 4, 3, 3}, 1);
  std::string base_path = write_base(dir, {conv});
  Factors f = random_factors(8, 36, 2, 9, 1.0f);
  write_lora_safetensors(dir.file("l.safetensors"), {{"lora_unet_input_blocks_0_0", Convention::kKohya, &f, conv.shape}});
  LoadedModel m = load(base_path);
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  expect_patched(m, conv, {&f});
}

// --- dtypes and placements ---------------------------------------------------

struct DtypeCase {
  DType dtype;
  bool mmap;
};
class LoraDtypes : public ::testing::TestWithParam<DtypeCase> {};

TEST_P(LoraDtypes, ImmediatelyPatchesLikeTheReferenceAndRemoveRestores) {
  const auto [dtype, mmap] = GetParam();
  TempDir dir;
  std::vector<BaseTensor> base{make_tensor("a.weight", dtype, {32, 128}, 1), make_tensor("b.weight", dtype, {32, 128}, 2)};
  std::string base_path = write_base(dir, base);
  Factors f = random_factors(32, 128, 8, 3, 4.0f, 1.0);
  write_lora_safetensors(dir.file("l.safetensors"), {{"a", Convention::kPeft, &f, {32, 128}}});
  LoadedModel m = load(base_path, mmap);
  const Tensor& a = m.tensors()[index_of(m, "a.weight")];
  ASSERT_EQ(a.placement, mmap ? Placement::kMap : Placement::kCopy);
  const std::byte* before = a.host_data;

  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->tensors.size(), 1u);
  EXPECT_EQ(r->tensors[0].action, LoraAction::kPatched);
  EXPECT_EQ(r->cow_bytes, mmap ? a.nbytes : 0u);
  EXPECT_EQ(a.host_data != before, mmap) << "mapped tensors move to their private range, copies stay";
  expect_patched(m, base[0], {&f});
  expect_file_bytes(m, base[1]);

  ASSERT_TRUE(remove_loras(m).ok());
  EXPECT_EQ(a.host_data, before);
  expect_file_bytes(m, base[0]);
  expect_file_bytes(m, base[1]);
}

INSTANTIATE_TEST_SUITE_P(All, LoraDtypes,
                         ::testing::Values(DtypeCase{DType::F32, true}, DtypeCase{DType::F16, true},
                                           DtypeCase{DType::BF16, true}, DtypeCase{DType::Q8_0, true},
                                           DtypeCase{DType::Q4_0, true}, DtypeCase{DType::F32, false},
                                           DtypeCase{DType::F16, false}, DtypeCase{DType::BF16, false},
                                           DtypeCase{DType::Q8_0, false}, DtypeCase{DType::Q4_0, false}),
                         [](const auto& p) {
                           return std::string(dtype_name(p.param.dtype)) + (p.param.mmap ? "_mapped" : "_copied");
                         });

// sim patches F32/F16/BF16 in its own memory (Device::add_low_rank, the
// cuda kernel's arithmetic): bit for bit what the CPU's patch gives.
TEST(LoraApply, SimDeviceTensorsArePatchedInTheDevicesMemoryAsTheCpuDoes) {
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    SCOPED_TRACE(dtype_name(dt));
    TempDir dir;
    BaseTensor t = make_tensor("w.weight", dt, {16, 64}, 4);
    std::string base_path = write_base(dir, {t});
    Factors f = random_factors(16, 64, 4, 5), g = random_factors(16, 64, 2, 6, 1.0f, -0.7);
    write_lora_safetensors(dir.file("l.safetensors"), {{"w", Convention::kPeft, &f, t.shape}});
    write_lora_safetensors(dir.file("k.safetensors"), {{"w", Convention::kPeft, &g, t.shape}});
    LoadedModel m = load(base_path, true, "*=sim");
    ASSERT_TRUE(m.tensors()[0].on_device);
    auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}, {dir.file("k.safetensors"), 0.5f}});
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    LoadedModel cpu = load(base_path, false, "");  // a host copy, patched on the CPU
    ASSERT_TRUE(apply(cpu, {{dir.file("l.safetensors"), 1.0f}, {dir.file("k.safetensors"), 0.5f}}).ok());
    EXPECT_TRUE(bytes_of(m, "w.weight") == bytes_of(cpu, "w.weight"));
    ASSERT_TRUE(remove_loras(m).ok());
    expect_file_bytes(m, t);
  }
}

// A dtype no device patches (a block type): downloaded, patched on the
// host, uploaded.
TEST(LoraApply, SimDeviceBlockTensorsAreDownloadedPatchedAndUploaded) {
  TempDir dir;
  BaseTensor t = make_tensor("w.weight", DType::Q8_0, {16, 64}, 4);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(16, 64, 4, 5);
  write_lora_safetensors(dir.file("l.safetensors"), {{"w", Convention::kPeft, &f, t.shape}});
  LoadedModel m = load(base_path, true, "*=sim");
  ASSERT_TRUE(m.tensors()[0].on_device);
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}}, LoraApplyMode::kImmediately);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  expect_patched(m, t, {&f});
  ASSERT_TRUE(remove_loras(m).ok());
  expect_file_bytes(m, t);
}

TEST(LoraApply, ConvertedTensorIsPatchedInItsNewDtypeAndRestoredAsAFreshLoadGivesIt) {
  TempDir dir;
  BaseTensor t = make_tensor("w.weight", DType::F16, {16, 64}, 6);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(16, 64, 4, 7);
  write_lora_safetensors(dir.file("l.safetensors"), {{"w", Convention::kPeft, &f, t.shape}});
  LoadedModel m = load(base_path, true, "", "*=F32");
  ASSERT_EQ(m.tensors()[0].placement, Placement::kConvert);
  std::vector<std::byte> fresh = bytes_of(m, "w.weight");
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::vector<double> want = reference_merge(decode(DType::F16, t.bytes), 16, 64, {&f});
  expect_merged(DType::F32, decode(DType::F32, bytes_of(m, "w.weight")), want, "converted");
  ASSERT_TRUE(remove_loras(m).ok());
  EXPECT_TRUE(bytes_of(m, "w.weight") == fresh);
}

// --- stacking, swapping, alpha ----------------------------------------------

TEST(LoraApply, TwoLorasStackWithTheirOwnStrengthsAndAlphas) {
  TempDir dir;
  BaseTensor t = make_tensor("model.diffusion_model.out.weight", DType::F16, {16, 64}, 8);
  std::string base_path = write_base(dir, {t});
  Factors a = random_factors(16, 64, 4, 9, 1.0f, 0.6);            // alpha present: scale 0.6 * 1 / 4
  Factors b = random_factors(16, 64, 8, 10, std::nullopt, -1.2);  // alpha absent: scale -1.2
  // b's factors stored as F16: the reference uses the rounded values.
  for (auto* v : {&b.down, &b.up})
    for (auto& x : *v) x = f16_to_f32(f32_to_f16(x));
  write_lora_safetensors(dir.file("a.safetensors"), {{"lora_unet_out", Convention::kKohya, &a, t.shape}});
  write_lora_safetensors(dir.file("b.safetensors"), {{"diffusion_model.out", Convention::kPeft, &b, t.shape, DType::F16}});
  LoadedModel m = load(base_path);
  auto r = apply(m, {{dir.file("a.safetensors"), 0.6f}, {dir.file("b.safetensors"), -1.2f}});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->tensors.size(), 1u);
  EXPECT_EQ(r->tensors[0].terms, 2u);
  expect_patched(m, t, {&a, &b});
}

TEST(LoraApply, SwapReplacesTheFirstLoraWithoutReloading) {
  TempDir dir;
  std::vector<BaseTensor> base{make_tensor("t1.weight", DType::F16, {16, 64}, 11),
                               make_tensor("t2.weight", DType::F16, {16, 64}, 12),
                               make_tensor("t3.weight", DType::F32, {16, 64}, 13)};
  std::string base_path = write_base(dir, base);
  Factors a1 = random_factors(16, 64, 4, 14), a2 = random_factors(16, 64, 4, 15);
  Factors b2 = random_factors(16, 64, 2, 16), b3 = random_factors(16, 64, 2, 17);
  write_lora_safetensors(dir.file("a.safetensors"),
                         {{"t1", Convention::kPeft, &a1, {16, 64}}, {"t2", Convention::kPeft, &a2, {16, 64}}});
  write_lora_safetensors(dir.file("b.safetensors"),
                         {{"t2", Convention::kPeft, &b2, {16, 64}}, {"t3", Convention::kPeft, &b3, {16, 64}}});
  for (bool mmap : {true, false}) {
    SCOPED_TRACE(mmap ? "mapped" : "copied");
    LoadedModel m = load(base_path, mmap);
    ASSERT_TRUE(apply(m, {{dir.file("a.safetensors"), 1.0f}}).ok());
    expect_patched(m, base[0], {&a1});
    expect_patched(m, base[1], {&a2});
    auto r = apply(m, {{dir.file("b.safetensors"), 1.0f}});
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    expect_file_bytes(m, base[0]);
    expect_patched(m, base[1], {&b2});
    expect_patched(m, base[2], {&b3});
    EXPECT_EQ(r->tensors_patched, 2u);
    ASSERT_TRUE(remove_loras(m).ok());
    for (const auto& t : base) expect_file_bytes(m, t);
  }
}

// --- modes -------------------------------------------------------------------

// y = W x in double, W decoded from the bytes the engine sees.
std::vector<double> matvec(const std::vector<double>& w, const std::vector<float>& x, uint64_t rows) {
  std::vector<double> y(rows, 0.0);
  for (uint64_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < x.size(); ++j) y[i] += w[i * x.size() + j] * x[j];
  return y;
}

class LoraModes : public ::testing::TestWithParam<DType> {};

TEST_P(LoraModes, AtRuntimeOutputEqualsImmediatelyAndTheReference) {
  const DType dtype = GetParam();
  TempDir dir;
  const uint64_t cols = dtype_block_elems(dtype) == 256 ? 256 : 96;
  BaseTensor t = make_tensor("layer.weight", dtype, {24, cols}, 20);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(24, cols, 4, 21, 2.0f, 0.9);
  write_lora_safetensors(dir.file("l.safetensors"), {{"layer", Convention::kPeft, &f, t.shape}});
  std::vector<float> x = random_floats(cols, 22);
  std::vector<double> want = matvec(reference_merge(decode(dtype, t.bytes), 24, cols, {&f}), x, 24);

  LoadedModel rt = load(base_path);
  const std::byte* before = rt.tensors()[0].host_data;
  auto r = apply(rt, {{dir.file("l.safetensors"), 0.9f}}, LoraApplyMode::kAtRuntime);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->tensors_at_runtime, 1u);
  EXPECT_EQ(r->cow_bytes, 0u);
  EXPECT_EQ(rt.tensors()[0].host_data, before);
  expect_file_bytes(rt, t);  // base untouched, still shared
  std::span<const LoraTerm> terms = lora_terms(rt, 0);
  ASSERT_EQ(terms.size(), 1u);
  std::vector<double> base_y = matvec(decode(dtype, bytes_of(rt, t.name)), x, 24);
  std::vector<float> y(base_y.begin(), base_y.end());
  add_lora_terms(terms, x, y);

  LoadedModel im = load(base_path);
  ASSERT_TRUE(apply(im, {{dir.file("l.safetensors"), 0.9f}}).ok());
  EXPECT_TRUE(lora_terms(im, 0).empty());
  expect_patched(im, t, {&f});  // every weight against the double merge, within the dtype's bound
  std::vector<double> y_im = matvec(decode(dtype, bytes_of(im, t.name)), x, 24);

  double norm = 0;
  for (double v : want) norm = std::max(norm, std::fabs(v));
  // Immediately rounds W' to the dtype; at run time keeps the delta exact.
  // Q4_0's requantisation moves each weight by up to a step (amax / 8); the
  // K-quants' by up to 2.5 steps of a finer grid (lora_test_support.h,
  // kquant_step), summed over 256 weights of random sign.
  const bool coarse = dtype == DType::Q4_0 || dtype == DType::Q4_K || dtype == DType::Q5_K || dtype == DType::Q6_K;
  double tol = coarse ? 0.5 * norm : dtype == DType::Q8_0 ? 0.05 * norm : 4e-3 * norm + 1e-4;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(y[i], want[i], 1e-4 * (1 + norm)) << "at_runtime row " << i;  // base exact + F32 term
    EXPECT_NEAR(y_im[i], y[i], tol) << "immediately vs at_runtime row " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(All, LoraModes,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                                           DType::Q4_K, DType::Q5_K, DType::Q6_K),
                         [](const auto& p) { return std::string(dtype_name(p.param)); });

TEST(LoraApply, AutoPatchesFloatBasesAndDefersQuantisedOnesReportingEach) {
  TempDir dir;
  std::vector<BaseTensor> base{make_tensor("f.weight", DType::F16, {8, 256}, 30),
                               make_tensor("q8.weight", DType::Q8_0, {8, 256}, 31),
                               make_tensor("k.weight", DType::Q4_K, {8, 256}, 32)};
  std::string base_path = write_base(dir, base);
  std::vector<Factors> f{random_factors(8, 256, 2, 33), random_factors(8, 256, 2, 34), random_factors(8, 256, 2, 35)};
  write_lora_safetensors(dir.file("l.safetensors"), {{"f", Convention::kPeft, &f[0], {8, 256}},
                                                     {"q8", Convention::kPeft, &f[1], {8, 256}},
                                                     {"k", Convention::kPeft, &f[2], {8, 256}}});
  LoadedModel m = load(base_path);
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}}, LoraApplyMode::kAuto);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::map<std::string, LoraAction> action;
  for (const auto& t : r->tensors) action[t.name] = t.action;
  EXPECT_EQ(action["f.weight"], LoraAction::kPatched);
  EXPECT_EQ(action["q8.weight"], LoraAction::kAtRuntime);
  EXPECT_EQ(action["k.weight"], LoraAction::kAtRuntime);
  EXPECT_EQ(r->tensors_patched, 1u);
  EXPECT_EQ(r->tensors_at_runtime, 2u);
  expect_patched(m, base[0], {&f[0]});
  expect_file_bytes(m, base[1]);
  expect_file_bytes(m, base[2]);
  EXPECT_EQ(lora_terms(m, index_of(m, "q8.weight")).size(), 1u);
  EXPECT_EQ(lora_terms(m, index_of(m, "k.weight")).size(), 1u);
  EXPECT_TRUE(lora_terms(m, index_of(m, "f.weight")).empty());
  ASSERT_NE(lora_report(m), nullptr);
  EXPECT_EQ(lora_report(m)->tensors.size(), 3u);
}

TEST(LoraApply, ImmediatelyRefusesOtherQuantisedTypesNamingAtRuntimeAndChangesNothing) {
  TempDir dir;
  // Q3_K has a dequantiser but no quantiser in weightmap.
  std::vector<BaseTensor> base{make_tensor("f.weight", DType::F32, {8, 256}, 40),
                               make_tensor("k.weight", DType::Q3_K, {8, 256}, 41)};
  std::string base_path = write_base(dir, base);
  Factors f = random_factors(8, 256, 2, 42);
  write_lora_safetensors(dir.file("l.safetensors"),
                         {{"f", Convention::kPeft, &f, {8, 256}}, {"k", Convention::kPeft, &f, {8, 256}}});
  LoadedModel m = load(base_path);
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("at_runtime"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("Q3_K"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K"), std::string::npos)
      << r.error().message;  // the types it does support
  EXPECT_EQ(r.error().tensor, "k.weight");
  for (const auto& t : base) expect_file_bytes(m, t);
  EXPECT_EQ(lora_report(m), nullptr);
}

// --- bad and partial input ----------------------------------------------------

TEST(LoraApply, UnmatchedLoraTensorsAreReportedAndLogged) {
  TempDir dir;
  BaseTensor t = make_tensor("w.weight", DType::F32, {8, 32}, 50);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(8, 32, 2, 51);
  SafetensorsWriter w;
  add_entries(w, {{"w", Convention::kPeft, &f, {8, 32}}, {"nothere", Convention::kPeft, &f, {8, 32}}});
  w.add_tensor("orphan.lora_down.weight", DType::F32, {2, 32}, TensorData::bytes(encode(DType::F32, f.down)));
  ASSERT_TRUE(w.write(dir.file("l.safetensors")).ok());
  LoadedModel m = load(base_path);
  std::vector<std::string> warnings;
  LoraOptions o;
  o.log = Logger([&](LogLevel level, std::string_view msg) {
    if (level == LogLevel::kWarn) warnings.emplace_back(msg);
  });
  auto r = apply_loras(m, {{dir.file("l.safetensors"), 1.0f}}, o);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->tensors_patched, 1u);
  ASSERT_EQ(r->unmatched.size(), 3u);
  for (const auto& u : r->unmatched) EXPECT_EQ(u.file, dir.file("l.safetensors"));
  EXPECT_EQ(warnings.size(), 3u);
  expect_patched(m, t, {&f});
}

TEST(LoraApply, FactorsThatDoNotFitTheBaseFailNamingTheLoraTensor) {
  TempDir dir;
  BaseTensor t = make_tensor("w.weight", DType::F32, {8, 32}, 60);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(8, 48, 2, 61);  // 48 columns, base has 32
  write_lora_safetensors(dir.file("l.safetensors"), {{"w", Convention::kPeft, &f, {8, 48}}});
  LoadedModel m = load(base_path);
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, dir.file("l.safetensors"));
  EXPECT_EQ(r.error().tensor, "w.lora_A.weight");
  EXPECT_TRUE(r.error().offset.has_value());
  EXPECT_NE(r.error().message.find("do not fit"), std::string::npos) << r.error().message;
  expect_file_bytes(m, t);
}

TEST(LoraApply, AMissingLoraFileFailsBeforeAnythingChanges) {
  TempDir dir;
  BaseTensor t = make_tensor("w.weight", DType::F32, {8, 32}, 70);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(8, 32, 2, 71);
  write_lora_safetensors(dir.file("l.safetensors"), {{"w", Convention::kPeft, &f, {8, 32}}});
  LoadedModel m = load(base_path);
  auto r = apply(m, {{dir.file("l.safetensors"), 1.0f}, {dir.file("missing.safetensors"), 1.0f}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().to_string().find("missing.safetensors"), std::string::npos);
  expect_file_bytes(m, t);
  EXPECT_EQ(lora_report(m), nullptr);
}

TEST(LoraApply, ReleaseWithALoraAppliedFreesEverything) {
  TempDir dir;
  BaseTensor t = make_tensor("w.weight", DType::F32, {8, 32}, 80);
  std::string base_path = write_base(dir, {t});
  Factors f = random_factors(8, 32, 2, 81);
  write_lora_safetensors(dir.file("l.safetensors"), {{"w", Convention::kPeft, &f, {8, 32}}});
  LoadedModel m = load(base_path);
  ASSERT_TRUE(apply(m, {{dir.file("l.safetensors"), 1.0f}}).ok());
  (void)m.release();  // eviction status irrelevant here
  EXPECT_TRUE(m.tensors().empty());
  EXPECT_EQ(lora_report(m), nullptr);
  EXPECT_TRUE(remove_loras(m).ok());
}

}  // namespace
}  // namespace wm
