// The public C++ API (weightmap/weightmap.hpp) as an engine uses it: one call
// to open, errors with codes, Result misuse, typed metadata, components,
// the report as valid JSON, the LoRA moved-tensor signal and generations,
// release.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cstring>
#include <filesystem>
#include <iostream>

#include "weightmap/weightmap.hpp"

// Test inputs only: the project's writers make the files; values are checked
// against what the test put in.
#include "format/gguf_writer.h"
#include "lora_test_support.h"
#include "platform_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

std::string write_gguf(const TempDir& dir) {
  GgufWriter w;
  w.add_metadata("general.architecture", MetaValue::str("llama"));
  w.add_metadata("llama.block_count", MetaValue::u(MetaType::U32, 32));
  w.add_metadata("llama.rope.freq_base", MetaValue::f(MetaType::F32, 10000.0));
  w.add_metadata("offset", MetaValue::i(MetaType::I64, -7));
  w.add_metadata("flag", MetaValue::u(MetaType::BOOL, 1));
  w.add_metadata("huge", MetaValue::u(MetaType::U64, UINT64_MAX));
  w.add_metadata("tokenizer.ggml.tokens",
                 MetaValue::array(MetaType::STRING, {MetaValue::str("<s>"), MetaValue::str("hello")}));
  w.add_metadata("ids", MetaValue::array(MetaType::I32, {MetaValue::i(MetaType::I32, 3), MetaValue::i(MetaType::I32, -4)}));
  w.add_metadata("scales", MetaValue::array(MetaType::F32, {MetaValue::f(MetaType::F32, 0.5)}));
  w.add_tensor("w", DType::F32, {4, 8}, TensorData::bytes(test::pattern(4 * 8 * 4, 3)));
  std::string path = dir.file("m.gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(PublicApi, ErrorsCarryCodesAndNameTheFile) {
  TempDir dir;
  auto missing = wm::open(dir.file("nope.gguf"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().file, dir.file("nope.gguf"));
  EXPECT_STREQ(error_code_name(missing.error().code), "not_found");

  test::write_text(dir.file("junk.gguf"), "this is not a model file at all");
  auto junk = wm::open(dir.file("junk.gguf"));
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().code, ErrorCode::kBadFormat);

  auto none = wm::open(std::vector<std::string>{});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidArgument);

  Options bad_hints;
  bad_hints.hints = "sequential,random";
  auto h = wm::open(write_gguf(dir), bad_hints);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code, ErrorCode::kInvalidArgument);

  Options bad_type;
  bad_type.type_rules = "*=F17";
  auto t = wm::open(write_gguf(dir), bad_type);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(t.error().message.find("unknown dtype 'F17'"), std::string::npos) << t.error().message;
}

TEST(PublicApi, AFifoIsRefusedAtOnceNotWaitedOn) {
  TempDir dir;
  std::string fifo = dir.file("model.gguf");
  std::string why;
  if (!test::make_fifo(fifo, &why)) GTEST_SKIP() << why << " (ADeviceIsRefused is the counterpart)";
  auto m = wm::open(fifo);  // blocked forever in open(2) before the fix
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("not a regular file"), std::string::npos) << m.error().to_string();
  EXPECT_EQ(m.error().file, fifo);
}

TEST(PublicApi, ADeviceIsRefused) {
  std::string device = test::device_path();
  auto m = wm::open(device);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("not a regular file"), std::string::npos) << m.error().to_string();
  EXPECT_EQ(m.error().file, device);
}

TEST(PublicApi, MisusingAResultThrowsWithTheErrorNotBadVariantAccess) {
  Result<int> bad = Error{"f.gguf", "t", 12, "broken", ErrorCode::kBadFormat};
  try {
    (void)bad.value();
    FAIL() << "value() on an error must throw";
  } catch (const BadResultAccess& e) {
    EXPECT_NE(std::string(e.what()).find("f.gguf"), std::string::npos) << e.what();
    EXPECT_EQ(e.error().code, ErrorCode::kBadFormat);
  }
  Result<int> good = 3;
  EXPECT_THROW((void)good.error(), NoError);
  EXPECT_THROW((void)Status().error(), NoError);
  EXPECT_EQ(*good, 3);
}

TEST(PublicApi, TypedMetadata) {
  TempDir dir;
  auto m = wm::open(write_gguf(dir));
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->metadata_string("general.architecture"), "llama");
  EXPECT_EQ(m->metadata_int("llama.block_count"), 32);
  EXPECT_EQ(m->metadata_float("llama.block_count"), 32.0);  // integers read as floats too
  EXPECT_EQ(m->metadata_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(m->metadata_int("offset"), -7);
  EXPECT_EQ(m->metadata_int("flag"), 1);
  EXPECT_EQ(m->metadata_int("huge"), std::nullopt);  // does not fit int64
  EXPECT_EQ(m->metadata_int("general.architecture"), std::nullopt);  // a string
  EXPECT_EQ(m->metadata_string("absent"), std::nullopt);
  EXPECT_EQ(m->metadata_strings("tokenizer.ggml.tokens"), (std::vector<std::string>{"<s>", "hello"}));
  EXPECT_EQ(m->metadata_ints("ids"), (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(m->metadata_floats("scales"), (std::vector<double>{0.5}));
  EXPECT_EQ(m->metadata_strings("ids"), std::nullopt);
  EXPECT_EQ(m->metadata_text("ids"), "[3, -4]");
  auto keys = m->metadata_keys();
  EXPECT_NE(std::find(keys.begin(), keys.end(), "llama.block_count"), keys.end());

  // Without arrays kept, array getters say nullopt rather than a partial answer.
  Options no_arrays;
  no_arrays.metadata_arrays = false;
  auto lean = wm::open(dir.file("m.gguf"), no_arrays);
  ASSERT_TRUE(lean.ok());
  EXPECT_EQ(lean->metadata_strings("tokenizer.ggml.tokens"), std::nullopt);
}

TEST(PublicApi, TensorsByNameAndIndexWithTheirBytes) {
  TempDir dir;
  std::string path = write_gguf(dir);
  auto m = wm::open(path);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ(m->index_of("w"), 0u);
  EXPECT_EQ(m->index_of("x"), std::nullopt);
  const Tensor& t = m->tensor(0);
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.shape, (std::vector<uint64_t>{4, 8}));
  EXPECT_EQ(t.placement, Placement::kMap);
  EXPECT_TRUE(t.reason.empty());
  ASSERT_TRUE(m->wait_ready(0).ok());
  auto file = test::read_file(m->file_path(t.file));
  EXPECT_EQ(std::memcmp(t.host_data, file.data() + t.file_offset, t.nbytes), 0);
  EXPECT_EQ(std::memcmp(t.host_data, test::pattern(128, 3).data(), 128), 0);
  EXPECT_FALSE(m->wait_ready(1).ok());  // out of range: an error, not UB
  EXPECT_EQ(m->wait_ready(1).error().code, ErrorCode::kInvalidArgument);
  EXPECT_GT(m->report().time.parse_ms, 0.0);  // parse timed by open(), not by the caller
}

TEST(PublicApi, ReportJsonIsValidJson) {
  TempDir dir;
  auto m = wm::open(write_gguf(dir));
  ASSERT_TRUE(m.ok());
  for (bool per_tensor : {false, true}) {
    simdjson::dom::parser parser;
    std::string json = m->report_json(per_tensor);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
    uint64_t tensors = 0;
    ASSERT_EQ(doc["tensors"].get(tensors), simdjson::SUCCESS);
    EXPECT_EQ(tensors, 1u);
    simdjson::dom::array per;
    EXPECT_EQ(doc["per_tensor"].get(per) == simdjson::SUCCESS, per_tensor);
  }
}

TEST(PublicApi, ComponentsAreLoadedOneAtATime) {
  TempDir dir;
  for (const char* c : {"text_encoder", "vae"}) {
    std::filesystem::create_directories(dir.file(c));
    SafetensorsWriter w;
    w.add_tensor("w", DType::F32, {2, 2}, TensorData::bytes(test::pattern(16, 1)));
    ASSERT_TRUE(w.write(dir.file(std::string(c) + "/model.safetensors")).ok());
  }
  auto all = wm::open(dir.path());
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  EXPECT_EQ(all->size(), 2u);
  Options only_vae;
  only_vae.components = {"vae"};
  auto vae = wm::open(dir.path(), only_vae);
  ASSERT_TRUE(vae.ok()) << vae.error().to_string();
  ASSERT_EQ(vae->size(), 1u);
  EXPECT_EQ(vae->tensor(0).name, "vae.w");
  EXPECT_EQ(vae->file_count(), 1u);
  Options wrong;
  wrong.components = {"unet"};
  auto none = wm::open(dir.path(), wrong);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

// The moved-tensor signal: an engine that stored host_data once (as ggml
// engines set tensor->data) re-points exactly the tensors LoRA moved.
TEST(PublicApi, LoraReportsMovedTensorsAndGenerations) {
  TempDir dir;
  GgufWriter base;
  auto w = lora_test::random_floats(16 * 64, 1);
  base.add_tensor("blk.0.attn_q.weight", DType::F32, {16, 64}, TensorData::bytes(lora_test::encode(DType::F32, w)));
  base.add_tensor("blk.0.other.weight", DType::F32, {16, 64}, TensorData::bytes(lora_test::encode(DType::F32, w)));
  ASSERT_TRUE(base.write(dir.file("base.gguf")).ok());
  lora_test::Factors f = lora_test::random_factors(16, 64, 4, 7, 8.0f, 1.0);
  lora_test::write_lora_safetensors(dir.file("lora.safetensors"),
                               {{"blk.0.attn_q", lora_test::Convention::kLlamaCpp, &f, {16, 64}}});

  for (bool mmap : {true, false}) {
    SCOPED_TRACE(mmap ? "mapped" : "copied");
    Options o;
    o.use_mmap = mmap;
    auto m = wm::open(dir.file("base.gguf"), o);
    ASSERT_TRUE(m.ok()) << m.error().to_string();
    const size_t q = *m->index_of("blk.0.attn_q.weight");
    const std::byte* before = m->tensor(q).host_data;
    EXPECT_EQ(m->generation(), 0u);

    LoraOptions lo;
    lo.mode = LoraApplyMode::kImmediately;
    auto r = m->apply_loras({{dir.file("lora.safetensors"), 1.0f}}, lo);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(m->generation(), 1u);
    EXPECT_EQ(m->tensor(q).generation, 1u);
    EXPECT_EQ(m->tensor(1 - q).generation, 0u);
    if (mmap) {  // copy-on-write range: a new address
      EXPECT_EQ(r->moved, std::vector<size_t>{q});
      EXPECT_TRUE(r->changed_in_place.empty());
      EXPECT_NE(m->tensor(q).host_data, before);
    } else {  // a host copy patched in place: same address, new values
      EXPECT_TRUE(r->moved.empty());
      EXPECT_EQ(r->changed_in_place, std::vector<size_t>{q});
      EXPECT_EQ(m->tensor(q).host_data, before);
    }
    // The values are W + (alpha / rank) up @ down.
    auto want = lora_test::reference_merge(std::vector<double>(w.begin(), w.end()), 16, 64, {&f});
    auto got = lora_test::decode(DType::F32, m->tensor(q).host_data, m->tensor(q).nbytes);
    lora_test::expect_merged(DType::F32, got, want, "blk.0.attn_q.weight");

    auto back = m->remove_loras();
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(m->generation(), 2u);
    EXPECT_EQ(m->tensor(q).host_data, before);
    EXPECT_EQ(*back, mmap ? std::vector<size_t>{q} : std::vector<size_t>{});
    EXPECT_EQ(std::memcmp(m->tensor(q).host_data, lora_test::encode(DType::F32, w).data(), 16 * 64 * 4), 0);
    auto again = m->remove_loras();  // nothing applied: nothing moves, no new generation
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->empty());
    EXPECT_EQ(m->generation(), 2u);
  }
}

TEST(PublicApi, CheckFileNamesTheChangedFileOnly) {
  TempDir dir;
  std::string a = write_gguf(dir);
  auto m = wm::open(a);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->check_file(0).ok());
  EXPECT_EQ(m->check_file(1).error().code, ErrorCode::kInvalidArgument);  // out of range: an error, not UB
  std::string why;
  if (!test::shrink_file(a, 64, &why)) {  // Windows: the counterpart change is a rename
    std::cout << why << "; renaming the file away instead\n";
    std::filesystem::rename(a, a + ".old");
  }
  Status s = m->check_file(0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kChangedOnDisk);
  EXPECT_EQ(s.error().file, a);
  EXPECT_EQ(m->check_files().error().file, a);
  ASSERT_TRUE(m->release().ok());
  EXPECT_EQ(m->check_file(0).error().code, ErrorCode::kInvalidArgument);
}

TEST(PublicApi, ReleasedModelIsEmptyAndSafe) {
  TempDir dir;
  auto m = wm::open(write_gguf(dir));
  ASSERT_TRUE(m.ok());
  Model moved = std::move(m.value());
  EXPECT_TRUE(m->released());
  EXPECT_EQ(moved.size(), 1u);
  ASSERT_TRUE(moved.release().ok());
  EXPECT_TRUE(moved.released());
  EXPECT_EQ(moved.size(), 0u);
  EXPECT_EQ(moved.find("w"), nullptr);
  EXPECT_EQ(moved.wait_ready(0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(moved.apply_loras({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(moved.metadata_int("llama.block_count"), std::nullopt);
  EXPECT_TRUE(moved.release().ok());  // twice is harmless
}

TEST(PublicApi, DtypeConvertDequantisesAndRefusesWhatItCannot) {
  // IEEE half 1.0, -2.0, 65504 (the largest finite half): bit patterns from the standard.
  const uint16_t half[3] = {0x3C00, 0xC000, 0x7BFF};
  float out[3] = {};
  ASSERT_TRUE(dtype_convert(DType::F16, DType::F32, half, 3, out).ok());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 65504.0f);

  // One Q8_0 block: scale d (F16 0.5) then 32 signed bytes; value = d * q.
  std::byte block[34] = {};
  const uint16_t d = 0x3800;  // 0.5
  std::memcpy(block, &d, 2);
  for (int i = 0; i < 32; ++i) block[2 + i] = static_cast<std::byte>(static_cast<int8_t>(i - 16));
  float q[32] = {};
  ASSERT_TRUE(dtype_convert(DType::Q8_0, DType::F32, block, 32, q).ok());
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q[i], 0.5f * static_cast<float>(i - 16)) << i;

  EXPECT_TRUE(dtype_can_convert(DType::Q4_K, DType::F16));
  EXPECT_FALSE(dtype_can_convert(DType::F32, DType::Q2_K));
  EXPECT_EQ(dtype_convert(DType::F32, DType::Q2_K, out, 256, q).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(dtype_convert(DType::Q8_0, DType::F32, block, 31, q).error().code, ErrorCode::kInvalidArgument);
  const int64_t big[2] = {7, int64_t{1} << 40};
  int32_t small[2] = {};
  Status s = dtype_convert(DType::I64, DType::I32, big, 2, small);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kBadFormat);
  EXPECT_NE(s.error().message.find("1 of 2 values do not fit I32"), std::string::npos) << s.error().message;
}

TEST(PublicApi, VersionMatchesTheHeaders) {
  EXPECT_STREQ(wm::version(), WEIGHTMAP_VERSION_STRING);
  EXPECT_GE(WEIGHTMAP_VERSION, 200);
}

}  // namespace
}  // namespace wm
