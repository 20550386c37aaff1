// convert_model: every input format to GGUF and safetensors, dtype
// conversion, sharding, metadata, atomicity and bounded memory. Expected
// bytes come from the test itself (values it wrote, IEEE half constants) or
// from numpy (the torch fixtures' .ref files), never from our own output;
// written files are read back through our parsers and their layout checked
// against the formats' specs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <simdjson.h>

#include "convert/convert_model.h"
#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "io/process_memory.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using test::pattern;
using test::read_file;
using test::TempDir;

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// A tensor's bytes as the file holds them, found through our parser (its
// offsets are what the layout checks below pin down independently).
std::vector<std::byte> tensor_bytes(const TensorTable& t, const std::string& name) {
  const TensorInfo* info = nullptr;
  for (const auto& x : t.tensors())
    if (x.qualified_name() == name) info = &x;
  EXPECT_NE(info, nullptr) << name;
  if (!info) return {};
  auto f = read_file(t.files()[info->file].path);
  return {f.begin() + static_cast<ptrdiff_t>(info->offset),
          f.begin() + static_cast<ptrdiff_t>(info->offset + info->nbytes)};
}

const TensorInfo* find(const TensorTable& t, const std::string& name) {
  for (const auto& x : t.tensors())
    if (x.qualified_name() == name) return &x;
  return nullptr;
}

std::string meta_string(const FileInfo& f, const std::string& key) {
  for (const auto& [k, v] : f.metadata)
    if (k == key && v.type == MetaType::STRING) return std::get<std::string>(v.v);
  return "<missing>";
}

struct Sample {
  std::vector<std::byte> f32 = bytes_of(std::vector<float>{1.5f, -2.25f, 0.0f, 3.0e8f, -1.0e-3f, 42.0f});
  std::vector<std::byte> f16 = pattern(2 * 4 * 2, 7);
  std::vector<std::byte> bf16 = pattern(8 * 2, 8);
  std::vector<std::byte> i32 = bytes_of(std::vector<int32_t>{-5, 7, 1 << 30});
};

void write_sample_safetensors(const std::string& path, const Sample& s) {
  SafetensorsWriter w;
  w.add_metadata("format", "pt");
  w.add_metadata("author", "test");
  w.add_tensor("a.f32", DType::F32, {2, 3}, TensorData::bytes(s.f32));
  w.add_tensor("b.f16", DType::F16, {2, 4}, TensorData::bytes(s.f16));
  w.add_tensor("c.bf16", DType::BF16, {8}, TensorData::bytes(s.bf16));
  w.add_tensor("d.i32", DType::I32, {3}, TensorData::bytes(s.i32));
  ASSERT_TRUE(w.write(path));
}

template <class T>
T get(const std::vector<std::byte>& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

TEST(ConvertModel, SafetensorsToGgufToSafetensorsKeepsBytesShapesAndMetadata) {
  TempDir dir;
  Sample s;
  write_sample_safetensors(dir.file("in.safetensors"), s);
  auto r1 = convert_model({dir.file("in.safetensors")}, dir.file("mid.gguf"), {});
  ASSERT_TRUE(r1) << r1.error().to_string();
  EXPECT_EQ(r1->format, ConvertFormat::kGguf);
  EXPECT_EQ(r1->tensors.size(), 4u);
  EXPECT_EQ(r1->metadata_kept, 2u);
  EXPECT_EQ(r1->bytes_in, r1->bytes_out);

  // The GGUF layout, from the spec: magic, version 3, 4 tensors, 2 KVs, and
  // the data section starting on a 32-byte boundary (general.alignment unset).
  auto g = read_file(dir.file("mid.gguf"));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(g.data()), 4), "GGUF");
  EXPECT_EQ(get<uint32_t>(g, 4), 3u);
  EXPECT_EQ(get<uint64_t>(g, 8), 4u);
  EXPECT_EQ(get<uint64_t>(g, 16), 2u);
  auto gt = open_model_path(dir.file("mid.gguf"));
  ASSERT_TRUE(gt) << gt.error().to_string();
  EXPECT_EQ(gt->files()[0].data_offset % 32, 0u);
  for (const auto& t : gt->tensors()) EXPECT_EQ((t.offset - gt->files()[0].data_offset) % 32, 0u) << t.name;
  EXPECT_EQ(meta_string(gt->files()[0], "author"), "test") << "safetensors metadata becomes GGUF strings";
  EXPECT_EQ(find(*gt, "b.f16")->shape, (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(tensor_bytes(*gt, "a.f32"), s.f32);
  EXPECT_EQ(tensor_bytes(*gt, "d.i32"), s.i32);

  auto r2 = convert_model({dir.file("mid.gguf")}, dir.file("out.safetensors"), {});
  ASSERT_TRUE(r2) << r2.error().to_string();
  auto st = open_model_path(dir.file("out.safetensors"));
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(meta_string(st->files()[0], "format"), "pt");
  EXPECT_EQ(meta_string(st->files()[0], "author"), "test");
  EXPECT_EQ(tensor_bytes(*st, "a.f32"), s.f32);
  EXPECT_EQ(tensor_bytes(*st, "b.f16"), s.f16);
  EXPECT_EQ(tensor_bytes(*st, "c.bf16"), s.bf16);
  EXPECT_EQ(tensor_bytes(*st, "d.i32"), s.i32);
  EXPECT_EQ(find(*st, "a.f32")->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(find(*st, "c.bf16")->dtype, DType::BF16);
  // safetensors layout, from its spec: u64 header length, JSON, data right after.
  auto f = read_file(dir.file("out.safetensors"));
  uint64_t n = get<uint64_t>(f, 0);
  EXPECT_EQ(st->files()[0].data_offset, 8 + n);
  EXPECT_EQ(f.size(), 8 + n + r2->bytes_out);
}

TEST(ConvertModel, GgufToSafetensorsKeepsStringMetadataAndSaysWhatItDropped) {
  TempDir dir;
  GgufWriter w;
  w.add_metadata("general.name", MetaValue::str("tiny"));
  w.add_metadata("llama.context_length", MetaValue::u(MetaType::U32, 4096));
  w.add_tensor("w", DType::F32, {4}, TensorData::bytes(bytes_of(std::vector<float>{1, 2, 3, 4})));
  ASSERT_TRUE(w.write(dir.file("in.gguf")));
  auto r = convert_model({dir.file("in.gguf")}, dir.file("out.safetensors"), {});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->metadata_kept, 1u);
  ASSERT_EQ(r->not_kept.size(), 1u);
  EXPECT_NE(r->not_kept[0].find("llama.context_length"), std::string::npos) << r->not_kept[0];
  auto st = open_model_path(dir.file("out.safetensors"));
  ASSERT_TRUE(st);
  EXPECT_EQ(meta_string(st->files()[0], "general.name"), "tiny");
  EXPECT_EQ(tensor_bytes(*st, "w"), bytes_of(std::vector<float>{1, 2, 3, 4}));
}

TEST(ConvertModel, GgufToGgufKeepsEveryKeyValueAndDequantisesQ8_0) {
  TempDir dir;
  GgufWriter w;
  std::vector<MetaValue> vocab{MetaValue::str("<s>"), MetaValue::str("hello")};
  Metadata want{{"general.name", MetaValue::str("tiny")},
                {"llama.context_length", MetaValue::u(MetaType::U32, 4096)},
                {"llama.rope.freq_base", MetaValue::f(MetaType::F32, 10000.0)},
                {"tokenizer.ggml.tokens", MetaValue::array(MetaType::STRING, vocab)}};
  for (const auto& [k, v] : want) w.add_metadata(k, v);
  // One Q8_0 block (ggml's layout: an f16 scale, then 32 int8): scale 0.5
  // (0x3800), values -16..15, so the F32 values are -8, -7.5, ..., 7.5.
  std::vector<std::byte> block(34);
  block[0] = std::byte{0x00};
  block[1] = std::byte{0x38};
  std::vector<float> expected;
  for (int k = 0; k < 32; ++k) {
    block[2 + k] = static_cast<std::byte>(static_cast<int8_t>(k - 16));
    expected.push_back(0.5f * static_cast<float>(k - 16));
  }
  w.add_tensor("q", DType::Q8_0, {32}, TensorData::bytes(block));
  ASSERT_TRUE(w.write(dir.file("in.gguf")));
  ConvertOptions o;
  o.type_rules = "F32";
  auto r = convert_model({dir.file("in.gguf")}, dir.file("out.gguf"), o);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->not_kept.empty());
  EXPECT_EQ(r->metadata_kept, want.size());
  auto g = open_model_path(dir.file("out.gguf"));
  ASSERT_TRUE(g) << g.error().to_string();
  EXPECT_EQ(g->files()[0].metadata, want);
  EXPECT_EQ(find(*g, "q")->dtype, DType::F32);
  EXPECT_EQ(tensor_bytes(*g, "q"), bytes_of(expected));
}

TEST(ConvertModel, F32ToF16RoundsToNearestAsIeeeSays) {
  TempDir dir;
  // Exact halves, and 1/3 (nearest half 0x3555) and 65520 (rounds to inf, 0x7c00).
  std::vector<float> v{1.5f, -2.25f, 65504.0f, 6.103515625e-05f, 1.0f / 3.0f, 0.0f, -0.0f, 65520.0f};
  std::vector<uint16_t> want{0x3e00, 0xc080, 0x7bff, 0x0400, 0x3555, 0x0000, 0x8000, 0x7c00};
  SafetensorsWriter w;
  w.add_tensor("x.weight", DType::F32, {8}, TensorData::bytes(bytes_of(v)));
  w.add_tensor("norm", DType::F32, {8}, TensorData::bytes(bytes_of(v)));
  ASSERT_TRUE(w.write(dir.file("in.safetensors")));
  ConvertOptions o;
  o.type_rules = "*.weight=F16";
  auto r = convert_model({dir.file("in.safetensors")}, dir.file("out.gguf"), o);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->tensors[0].to, DType::F16);
  EXPECT_EQ(r->tensors[1].to, DType::F32) << "no rule matched: kept";
  auto g = open_model_path(dir.file("out.gguf"));
  ASSERT_TRUE(g);
  EXPECT_EQ(find(*g, "x.weight")->dtype, DType::F16);
  EXPECT_EQ(tensor_bytes(*g, "x.weight"), bytes_of(want));
  EXPECT_EQ(tensor_bytes(*g, "norm"), bytes_of(v));
}

// Quantised targets: an F32 (and an F16) model written as Q8_0 / Q4_K GGUF
// gives the bytes gguf-py's quantize (Q8_0) and the numpy re-implementation
// of ggml's quantize_row_q4_K_ref (Q4_K) give for the same values
// (tests/data/quants, scripts/make_quant_fixtures.py), whatever the chunking.
TEST(ConvertModel, QuantisedTargetsEqualTheReferenceQuantisers) {
  const std::string data = std::string(WM_SOURCE_DIR) + "/tests/data/quants/";
  auto input = read_file(data + "quantize_input.f32");
  ASSERT_EQ(input.size(), 2048u * 4);
  for (const char* type : {"Q8_0", "Q4_K"}) {
    for (uint64_t staging : {uint64_t{1} << 20, uint64_t{4096}}) {  // one chunk; many chunks
      SCOPED_TRACE(fmt::format("{} staging {}", type, staging));
      TempDir dir;
      SafetensorsWriter w;
      w.add_tensor("blk.0.weight", DType::F32, {8, 256}, TensorData::bytes(input));
      w.add_tensor("norm", DType::F32, {4}, TensorData::bytes(bytes_of(std::vector<float>{1, 2, 3, 4})));
      ASSERT_TRUE(w.write(dir.file("in.safetensors")));
      ConvertOptions o;
      o.type_rules = fmt::format("*.weight={}", type);
      o.staging_bytes = staging;
      auto r = convert_model({dir.file("in.safetensors")}, dir.file("out.gguf"), o);
      ASSERT_TRUE(r) << r.error().to_string();
      auto g = open_model_path(dir.file("out.gguf"));
      ASSERT_TRUE(g);
      EXPECT_EQ(dtype_name(find(*g, "blk.0.weight")->dtype), std::string(type));
      EXPECT_EQ(tensor_bytes(*g, "blk.0.weight"), read_file(data + type + ".q.bin"));
      EXPECT_EQ(find(*g, "norm")->dtype, DType::F32) << "no rule matched: kept";
    }
  }
}

TEST(ConvertModel, QuantisedTargetsNeedWholeBlocksAndAQuantiser) {
  TempDir dir;
  SafetensorsWriter w;
  w.add_tensor("x.weight", DType::F32, {2, 48}, TensorData::bytes(pattern(2 * 48 * 4, 3)));
  ASSERT_TRUE(w.write(dir.file("in.safetensors")));
  ConvertOptions o;
  o.type_rules = "Q4_K";  // rows of 48 are not whole 256-element blocks
  auto r = convert_model({dir.file("in.safetensors")}, dir.file("out.gguf"), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("x.weight"), std::string::npos) << r.error().to_string();
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.gguf")));
  o.type_rules = "IQ2_XXS";  // no quantiser
  r = convert_model({dir.file("in.safetensors")}, dir.file("out.gguf"), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("no quantiser for IQ2_XXS"), std::string::npos) << r.error().to_string();
}

TEST(ConvertModel, TorchCheckpointsToSafetensorsMatchNumpyBytes) {
  for (const char* name : {"dtypes.pt", "views.pt", "views_deflated.pt", "nested.ckpt"}) {
    SCOPED_TRACE(name);
    TempDir dir;
    std::string in = test::torch_fixture(name);
    auto r = convert_model({in}, dir.file("out.safetensors"), {});
    ASSERT_TRUE(r) << r.error().to_string();
    auto st = open_model_path(dir.file("out.safetensors"));
    ASSERT_TRUE(st) << st.error().to_string();
    auto refs = test::read_refs(in);
    ASSERT_FALSE(refs.empty());
    EXPECT_EQ(st->tensors().size(), refs.size());
    for (const auto& ref : refs) {
      const TensorInfo* t = find(*st, ref.name);
      ASSERT_NE(t, nullptr) << ref.name;
      EXPECT_EQ(dtype_name(t->dtype), ref.dtype) << ref.name;
      EXPECT_EQ(t->shape, ref.shape) << ref.name;
      EXPECT_EQ(tensor_bytes(*st, ref.name), ref.bytes) << ref.name;
    }
  }
}

TEST(ConvertModel, ShardsPastTheShardSizeWithATransformersIndex) {
  TempDir dir;
  SafetensorsWriter w;
  std::vector<std::vector<std::byte>> data;
  for (int k = 0; k < 5; ++k) {
    data.push_back(pattern(1000, 10 + k));
    w.add_tensor(fmt::format("t{}", k), DType::U8, {1000}, TensorData::bytes(data.back()));
  }
  ASSERT_TRUE(w.write(dir.file("in.safetensors")));
  std::filesystem::create_directory(dir.file("out"));
  ConvertOptions o;
  o.shard_bytes = 2500;
  auto r = convert_model({dir.file("in.safetensors")}, dir.file("out"), o);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->files.size(), 3u);
  EXPECT_EQ(r->files[0], dir.file("out/model-00001-of-00003.safetensors"));
  EXPECT_EQ(r->files[2], dir.file("out/model-00003-of-00003.safetensors"));
  EXPECT_EQ(r->index, dir.file("out/model.safetensors.index.json"));

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(r->index).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(uint64_t(doc["metadata"]["total_size"]), 5000u);
  EXPECT_EQ(std::string_view(doc["weight_map"]["t0"]), "model-00001-of-00003.safetensors");
  EXPECT_EQ(std::string_view(doc["weight_map"]["t2"]), "model-00002-of-00003.safetensors");
  EXPECT_EQ(std::string_view(doc["weight_map"]["t4"]), "model-00003-of-00003.safetensors");

  auto back = open_model_path(dir.file("out"));  // the folder, through its index
  ASSERT_TRUE(back) << back.error().to_string();
  ASSERT_EQ(back->tensors().size(), 5u);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(tensor_bytes(*back, fmt::format("t{}", k)), data[k]);
}

TEST(ConvertModel, FailuresLeaveNoOutputAndNameTheTensor) {
  TempDir dir;
  Sample s;
  write_sample_safetensors(dir.file("in.safetensors"), s);
  auto before = read_file(dir.file("in.safetensors"));
  auto only_input_left = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
    return names == std::vector<std::string>{"in.safetensors"};
  };

  ConvertOptions unknown;
  unknown.type_rules = "*=F17";
  auto r = convert_model({dir.file("in.safetensors")}, dir.file("out.gguf"), unknown);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown dtype 'F17'"), std::string::npos) << r.error().message;
  EXPECT_TRUE(only_input_left());

  ConvertOptions quant;
  quant.type_rules = "a.*=Q4_K";
  r = convert_model({dir.file("in.safetensors")}, dir.file("out.gguf"), quant);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().tensor, "a.f32");
  EXPECT_TRUE(only_input_left());

  // The target format lacks the dtype: refused before a byte is written.
  SafetensorsWriter b;
  b.add_tensor("flag", DType::BOOL, {2}, TensorData::bytes(pattern(2, 1)));
  ASSERT_TRUE(b.write(dir.file("bool.safetensors")));
  r = convert_model({dir.file("bool.safetensors")}, dir.file("out.gguf"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().tensor, "flag");
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.gguf")));
  std::filesystem::remove(dir.file("bool.safetensors"));

  r = convert_model({dir.file("in.safetensors")}, dir.file("in.safetensors"), {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("refusing to overwrite an input"), std::string::npos) << r.error().message;
  EXPECT_EQ(read_file(dir.file("in.safetensors")), before);
  EXPECT_TRUE(only_input_left());
}

TEST(ConvertModel, MemoryStaysWithinAFewStagingBudgets) {
#ifdef WM_SANITIZED
  GTEST_SKIP() << "memory figures mean little under sanitizers";
#endif
  TempDir dir;
  constexpr uint64_t kTensor = 64ull << 20;  // 4 x 64 MiB = 256 MiB of F32
  SafetensorsWriter w;
  for (int k = 0; k < 4; ++k)
    w.add_tensor(fmt::format("layer{}.weight", k), DType::F32, {kTensor / 4},
                 TensorData{[k](uint64_t offset, std::span<std::byte> out) {
                              for (size_t i = 0; i < out.size(); ++i)
                                out[i] = static_cast<std::byte>((offset + i) * 7 + static_cast<uint64_t>(k));
                            },
                            kTensor});
  ASSERT_TRUE(w.write(dir.file("big.safetensors")));
  ConvertOptions o;
  o.staging_bytes = 8ull << 20;
  o.type_rules = "layer0.*=F16";  // converted and copied tensors both stream
  uint64_t base = read_process_memory().anon_kib, peak = base;
  o.progress = [&](uint64_t, uint64_t) { peak = std::max(peak, read_process_memory().anon_kib); };
  auto r = convert_model({dir.file("big.safetensors")}, dir.file("big.gguf"), o);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_LE(r->staging_bytes, o.staging_bytes);
  uint64_t growth = (peak - base) << 10;
  // The staging buffer, the output's write buffer (4 MiB), allocator slack.
  if (supports(Capability::kProcessMemory)) {  // else there is no figure to bound (wine)
    EXPECT_LT(growth, 3 * o.staging_bytes) << "RssAnon grew " << (growth >> 20) << " MiB";
  }
  auto g = open_model_path(dir.file("big.gguf"));
  ASSERT_TRUE(g);
  EXPECT_EQ(find(*g, "layer0.weight")->dtype, DType::F16);
  // Spot-check the copied tensor's last bytes against the generator.
  const TensorInfo* t3 = find(*g, "layer3.weight");
  ASSERT_NE(t3, nullptr);
  std::ifstream f(g->files()[0].path, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(t3->offset + kTensor - 16));
  char tail[16];
  f.read(tail, 16);
  for (uint64_t i = 0; i < 16; ++i)
    EXPECT_EQ(static_cast<uint8_t>(tail[i]), static_cast<uint8_t>((kTensor - 16 + i) * 7 + 3));
}

}  // namespace
}  // namespace wm
