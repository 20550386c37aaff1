// Regressions from the independent attack (issue 14), items the lead fixed:
// special files refused at once, no allocation sized by an empty tensor's
// dimensions, JSON valid whatever bytes names hold, the default diffusers
// weights win over a variant index, duplicate fields and metadata keys
// refused, shard paths compared after resolving them, empty indexes refused,
// the load report's memory taken after LoRA. Inputs are generated here; the
// JSON is checked by simdjson, an independent strict parser.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "common/json_writer.h"
#include "format/gguf_writer.h"
#include "format/safetensors_writer.h"
#include "lora_test_support.h"
#include "platform_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

bool strict_json(const std::string& text, std::string* why = nullptr) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto err = parser.parse(text).get(doc);
  if (err && why) *why = simdjson::error_message(err);
  return !err;
}

// --- 1. special files ----------------------------------------------------------

TEST(Attack, FifoIsRefusedByEveryCommandWithoutHanging) {
  TempDir dir;
  std::string fifo = dir.file("model.safetensors");
  std::string why;
  if (!test::make_fifo(fifo, &why)) GTEST_SKIP() << why << " (ADeviceIsRefusedByEveryCommand is the counterpart)";
  for (const char* cmd : {"inspect", "load", "run", "verify", "cache status"}) {
    auto r = test::run_cli(fmt::format("{} {}", cmd, fifo));  // hung forever in open(2) before
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << cmd << ": " << r.err;
  }
  // A shard index naming a FIFO shard.
  test::write_text(dir.file("model.safetensors.index.json"),
                   R"({"metadata": {}, "weight_map": {"a": "model.safetensors"}})");
  auto r = test::run_cli("load " + dir.file("model.safetensors.index.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
}

TEST(Attack, ADeviceIsRefusedByEveryCommand) {
  std::string device = test::device_path();
  for (const char* cmd : {"inspect", "load", "run", "verify", "cache status"}) {
    auto r = test::run_cli(fmt::format("{} {}", cmd, device));
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << cmd << ": " << r.err;
  }
}

// --- 2. empty tensors with huge dimensions ----------------------------------------

TEST(Attack, EmptyTensorWithAHugeDimensionRunsInBoundedMemory) {
  TempDir dir;
  SafetensorsWriter st;
  st.add_tensor("empty_wide", DType::F32, {0, 1ull << 40}, TensorData::bytes({}));
  st.add_tensor("empty_mid", DType::F16, {5, 0, 1ull << 30}, TensorData::bytes({}));
  st.add_tensor("w", DType::F32, {2, 2}, TensorData::bytes(std::vector<std::byte>(16, std::byte{0})));
  ASSERT_TRUE(st.write(dir.file("e.safetensors")).ok());
  GgufWriter g;
  g.add_tensor("empty_wide", DType::F32, {0, 1ull << 40}, TensorData::bytes({}));  // ne = [2^40, 0]
  ASSERT_TRUE(g.write(dir.file("e.gguf")).ok());
  for (const char* f : {"e.safetensors", "e.gguf"}) {
    // Aborted with std::bad_alloc (or took GBs) before: x was sized by the huge dimension.
    auto r = test::run_cli(fmt::format("run --json {}", dir.file(f)));
    EXPECT_EQ(r.exit_code, 0) << f << ": " << r.err;
    EXPECT_TRUE(strict_json(r.out)) << r.out;
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    ASSERT_EQ(p.parse(r.out).get(doc), simdjson::SUCCESS);
    uint64_t peak_kib = 0;
    ASSERT_EQ(doc["peak_rss_kib"].get(peak_kib), simdjson::SUCCESS) << r.out;
    EXPECT_LT(peak_kib, 256u * 1024) << f << ": the run peaked at " << peak_kib << " KiB";
  }
}

// --- 3. JSON from any bytes ------------------------------------------------------------

TEST(Attack, JsonWriterOutputIsValidForAnyBytes) {
  // Property: arbitrary bytes (invalid UTF-8, controls, quotes, NULs) as keys
  // and values always give strict JSON, and valid UTF-8 passes unchanged.
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    auto raw = test::pattern(1 + seed % 64, seed);
    std::string s(reinterpret_cast<const char*>(raw.data()), raw.size());
    JsonWriter j;
    j.begin_object().key(s).value(s).key("k").begin_array().value(s).end_array().end_object();
    std::string why;
    ASSERT_TRUE(strict_json(j.str(), &why)) << "seed " << seed << ": " << why;
  }
  const std::string utf8 = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  EXPECT_EQ(json_quote(utf8), "\"" + utf8 + "\"");
  EXPECT_EQ(json_quote("a\xFF" "b"), "\"a\\ufffdb\"");
  EXPECT_EQ(json_quote("\xC3"), "\"\\ufffd\"");           // truncated sequence
  EXPECT_EQ(json_quote("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a UTF-16 surrogate is not UTF-8
  EXPECT_EQ(json_quote("\xC0\xAF"), "\"\\ufffd\\ufffd\"");  // overlong
}

TEST(Attack, InvalidUtf8InGgufNamesAndStringsGivesValidJsonEverywhere) {
  TempDir dir;
  GgufWriter g;
  g.add_metadata("general.name", MetaValue::str("bad \xFF\xFE name"));
  g.add_metadata("key\xC3", MetaValue::str("v"));
  g.add_tensor("blk.\xFF.weight", DType::F32, {2, 2}, TensorData::bytes(std::vector<std::byte>(16, std::byte{0})));
  ASSERT_TRUE(g.write(dir.file("u.gguf")).ok());
  for (const char* cmd : {"inspect --json --metadata", "load --json --tensors", "run --json", "verify --json",
                          "cache status --json --tensors"}) {
    auto r = test::run_cli(fmt::format("{} {}", cmd, dir.file("u.gguf")));
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    std::string why;
    EXPECT_TRUE(strict_json(r.out, &why)) << cmd << ": " << why << "\n" << r.out;
  }
}

// --- 4. diffusers: the default weights win over a variant index -------------------

TEST(Attack, DefaultWeightsWinOverAShardedVariantIndex) {
  TempDir dir;
  std::string c = dir.file("text_encoder");
  std::filesystem::create_directories(c);
  SafetensorsWriter def;
  def.add_tensor("default_only", DType::F32, {2}, TensorData::bytes(std::vector<std::byte>(8, std::byte{1})));
  ASSERT_TRUE(def.write(c + "/model.safetensors").ok());
  SafetensorsWriter half;
  half.add_tensor("fp16_only", DType::F16, {2}, TensorData::bytes(std::vector<std::byte>(4, std::byte{1})));
  ASSERT_TRUE(half.write(c + "/model-00001-of-00001.fp16.safetensors").ok());
  test::write_text(c + "/model.safetensors.index.fp16.json",
                   R"({"weight_map": {"fp16_only": "model-00001-of-00001.fp16.safetensors"}})");
  auto plain = test::run_cli("inspect " + dir.path());
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("default_only"), std::string::npos) << plain.out;
  EXPECT_EQ(plain.out.find("fp16_only"), std::string::npos) << plain.out;
  auto variant = test::run_cli("inspect --variant fp16 " + dir.path());
  EXPECT_EQ(variant.exit_code, 0) << variant.err;
  EXPECT_NE(variant.out.find("fp16_only"), std::string::npos) << variant.out;
}

// --- 6, 7. duplicate fields and metadata keys ------------------------------------------

std::vector<std::byte> safetensors_with_header(const std::string& header, size_t data_bytes) {
  std::vector<std::byte> out(8 + header.size() + data_bytes);
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

TEST(Attack, DuplicateFieldsInATensorEntryAreRefused) {
  TempDir dir;
  const std::string cases[] = {
      R"({"t":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
      R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"data_offsets":[0,8]}})",
      R"({"t":{"dtype":"F32","shape":[2],"shape":[1],"data_offsets":[0,8]}})",
  };
  for (const std::string& h : cases) {
    std::string path = dir.file("d.safetensors");
    test::write_file(path, safetensors_with_header(h, 8));
    auto r = test::run_cli("inspect " + path);
    EXPECT_NE(r.exit_code, 0) << h;
    EXPECT_NE(r.err.find("'t'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("twice"), std::string::npos) << r.err;
  }
}

TEST(Attack, DuplicateMetadataKeysAreRefused) {
  TempDir dir;
  std::string path = dir.file("m.safetensors");
  test::write_file(path, safetensors_with_header(
                             R"({"__metadata__":{"a":"1","a":"2"},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8));
  auto r = test::run_cli("inspect --json --metadata " + path);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("'a'"), std::string::npos) << r.err;
}

// --- 11. a shard named two ways; an empty index ---------------------------------------

TEST(Attack, AShardNamedTwoWaysIsOneShard) {
  TempDir dir;
  SafetensorsWriter w;
  w.add_tensor("a", DType::F32, {2}, TensorData::bytes(std::vector<std::byte>(8, std::byte{1})));
  w.add_tensor("b", DType::F32, {2}, TensorData::bytes(std::vector<std::byte>(8, std::byte{2})));
  ASSERT_TRUE(w.write(dir.file("model-00001-of-00001.safetensors")).ok());
  test::write_text(dir.file("model.safetensors.index.json"),
                   R"({"weight_map": {"a": "model-00001-of-00001.safetensors", "b": "./model-00001-of-00001.safetensors"}})");
  auto r = test::run_cli("load --json " + dir.file("model.safetensors.index.json"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"tensors\":2"), std::string::npos) << r.out;
}

TEST(Attack, AnIndexWithAnEmptyWeightMapIsRefused) {
  TempDir dir;
  test::write_text(dir.file("model.safetensors.index.json"), R"({"metadata": {}, "weight_map": {}})");
  auto r = test::run_cli("load " + dir.file("model.safetensors.index.json"));
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("weight_map"), std::string::npos) << r.err;
}

// --- more shards than the open-file limit ------------------------------------------------

TEST(Attack, MoreShardsThanTheSoftOpenFileLimitLoad) {
  TempDir dir;
  std::string map;
  for (int k = 0; k < 150; ++k) {
    SafetensorsWriter w;
    w.add_tensor(fmt::format("t{}", k), DType::F32, {4}, TensorData::bytes(std::vector<std::byte>(16, std::byte{1})));
    std::string shard = fmt::format("model-{:05}-of-00150.safetensors", k + 1);
    ASSERT_TRUE(w.write(dir.file(shard)).ok());
    map += fmt::format("{}\"t{}\": \"{}\"", k ? ", " : "", k, shard);
  }
  test::write_text(dir.file("model.safetensors.index.json"), "{\"weight_map\": {" + map + "}}");
  std::string index = dir.file("model.safetensors.index.json");
  auto plain = test::run_cli("load " + index);  // 150 files open at once
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  // Soft limit 64, hard limit higher: raised, loaded, and said so.
  test::CommandResult soft, hard;
  std::string why;
  if (!test::run_cli_with_open_file_limit(64, 1024, "load " + index, &soft, &why)) GTEST_SKIP() << why;
  EXPECT_EQ(soft.exit_code, 0) << soft.err;
  EXPECT_NE(soft.err.find("raised the soft open-file limit from 64 to 1024"), std::string::npos) << soft.err;
  // Hard limit 64: an error naming the limit and how to raise it.
  ASSERT_TRUE(test::run_cli_with_open_file_limit(64, 64, "load " + index, &hard, &why)) << why;
  EXPECT_NE(hard.exit_code, 0);
  EXPECT_NE(hard.err.find("RLIMIT_NOFILE"), std::string::npos) << hard.err;
  EXPECT_NE(hard.err.find("ulimit -n"), std::string::npos) << hard.err;
}

// --- 10, 12. LoRA in `load`: notes on their own tensor's line; memory after LoRA ---

struct LoraModel {
  TempDir dir;
  lora_test::Factors f = lora_test::random_factors(2048, 2048, 4, 11);
  LoraModel() {
    GgufWriter base;
    base.add_tensor("blk.0.attn_q.weight", DType::F32, {2048, 2048},
                    TensorData::bytes(lora_test::encode(DType::F32, lora_test::random_floats(2048 * 2048, 3))));
    base.add_tensor("blk.0.attn_k.weight", DType::F32, {8, 8}, TensorData::bytes(std::vector<std::byte>(256)));
    EXPECT_TRUE(base.write(dir.file("base.gguf")).ok());
    lora_test::write_lora_safetensors(dir.file("l.safetensors"),
                                      {{"blk.0.attn_q", lora_test::Convention::kLlamaCpp, &f, {2048, 2048}}});
  }
};

TEST(Attack, LoraNotesStandOnTheirTensorsLine) {
  LoraModel m;
  auto r = test::run_cli(fmt::format("load --tensors {} --lora {}", m.dir.file("base.gguf"), m.dir.file("l.safetensors")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t notes = 0;
  for (size_t at = 0, end; at < r.out.size(); at = end + 1) {
    end = r.out.find('\n', at);
    if (end == std::string::npos) end = r.out.size();
    std::string line = r.out.substr(at, end - at);
    if (line.find("[lora") == std::string::npos) continue;
    ++notes;
    EXPECT_NE(line.find("blk.0.attn_q.weight"), std::string::npos) << "note on another tensor's line: " << line;
    EXPECT_EQ(line.find("attn_k"), std::string::npos) << line;
  }
  EXPECT_EQ(notes, 1u) << r.out;
}

TEST(Attack, ALoraStrengthThatIsNotANumberIsNamedAsSuch) {
  LoraModel m;
  auto r = test::run_cli(fmt::format("load {} --lora {}:abc", m.dir.file("base.gguf"), m.dir.file("l.safetensors")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("strength 'abc' is not a number"), std::string::npos) << r.err;  // said "cannot open" before
}

TEST(Attack, LoadReportMemoryIncludesTheLoraStep) {
#ifdef WM_SANITIZED
  GTEST_SKIP() << "memory figures mean little under sanitizers";
#endif
  WM_SKIP_WITHOUT(Capability::kProcessMemory);
  LoraModel m;
  auto r = test::run_cli(fmt::format("load --json {} --lora {} --lora-apply-mode immediately", m.dir.file("base.gguf"),
                                     m.dir.file("l.safetensors")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  uint64_t cow = doc["lora"]["cow_bytes"], anon = doc["rss"]["anon_kib"], before = doc["rss"]["anon_kib_before"];
  uint64_t lora_before = doc["lora"]["anon_kib_before"], lora_after = doc["lora"]["anon_kib_after"];
  EXPECT_EQ(cow, 2048u * 2048 * 4);
  // The 16 MiB of copy-on-write pages are anonymous memory the command holds:
  // the report must count them (it said +0 before).
  EXPECT_GE(anon - before, cow / 1024 * 9 / 10) << r.out;
  EXPECT_GE(lora_after - lora_before, cow / 1024 * 9 / 10) << r.out;
}

}  // namespace
}  // namespace wm
