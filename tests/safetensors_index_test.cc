// Sharded safetensors: `*.safetensors.index.json` + shards open as one table;
// the index and the shards must agree exactly, and shard names cannot leave
// the index's folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "format/model_path.h"
#include "format/shard_index.h"
#include "format/safetensors_writer.h"
#include "test_support.h"

namespace wm {
namespace {

using test::read_file;
using test::TempDir;
using test::write_text;

std::vector<std::byte> pattern(uint64_t n, uint32_t seed) {
  std::vector<std::byte> out(n);
  for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 7 + seed * 31 + (i >> 8)) & 0xff);
  return out;
}

struct ShardTensor {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  uint64_t nbytes;
};

// Writes a shard holding `tensors` (data derived from the tensor name).
void write_shard(const std::string& path, const std::vector<ShardTensor>& tensors) {
  SafetensorsWriter w;
  for (const auto& t : tensors)
    w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(pattern(t.nbytes, static_cast<uint32_t>(t.name.size()))));
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
}

// {"metadata": {...}, "weight_map": {name: shard, ...}} in the given order.
std::string index_json(const std::vector<std::pair<std::string, std::string>>& map,
                       const std::string& metadata = R"({"total_size": 1234})") {
  std::string out = "{\n  \"metadata\": " + metadata + ",\n  \"weight_map\": {\n";
  for (size_t k = 0; k < map.size(); ++k)
    out += fmt::format("    \"{}\": \"{}\"{}\n", map[k].first, map[k].second, k + 1 < map.size() ? "," : "");
  return out + "  }\n}\n";
}

const char* kShard1 = "model-00001-of-00003.safetensors";
const char* kShard2 = "model-00002-of-00003.safetensors";
const char* kShard3 = "model-00003-of-00003.safetensors";

// A good 3-shard model in `dir`; returns the index path.
struct Sharded {
  std::string index;
  std::map<std::string, std::string> shard_of;  // tensor -> shard file name
  std::map<std::string, ShardTensor> tensors;
};
Sharded make_three_shards(const TempDir& dir) {
  Sharded m;
  std::vector<ShardTensor> s1 = {{"embed.weight", DType::F16, {16, 8}, 256}, {"layers.0.attn.q", DType::BF16, {8, 8}, 128}};
  std::vector<ShardTensor> s2 = {{"layers.0.attn.k", DType::F32, {8, 4}, 128}, {"layers.0.norm", DType::F32, {8}, 32},
                                 {"layers.0.scale", DType::F8_E4M3, {}, 1}};
  std::vector<ShardTensor> s3 = {{"lm_head.weight", DType::I8, {3, 5}, 15}, {"empty", DType::F32, {0}, 0}};
  write_shard(dir.file(kShard1), s1);
  write_shard(dir.file(kShard2), s2);
  write_shard(dir.file(kShard3), s3);
  std::vector<std::pair<std::string, std::string>> map;
  // The index's order interleaves shards on purpose.
  for (const auto& [list, shard] : {std::pair{&s3, kShard3}, std::pair{&s1, kShard1}, std::pair{&s2, kShard2}})
    for (const auto& t : *list) {
      map.emplace_back(t.name, shard);
      m.shard_of[t.name] = shard;
      m.tensors[t.name] = t;
    }
  m.index = dir.file("model.safetensors.index.json");
  write_text(m.index, index_json(map));
  return m;
}

void expect_matches(const TensorTable& table, const Sharded& m, const TempDir& dir) {
  ASSERT_EQ(table.files().size(), 3u);
  ASSERT_EQ(table.tensors().size(), m.tensors.size());
  for (const auto& f : table.files()) {
    EXPECT_EQ(f.format, FileFormat::kSafetensors);
    EXPECT_TRUE(f.component.empty());
  }
  std::map<std::string, std::vector<std::byte>> contents;
  for (const auto& t : table.tensors()) {
    SCOPED_TRACE(t.name);
    auto it = m.tensors.find(t.name);
    ASSERT_NE(it, m.tensors.end());
    ASSERT_LT(t.file, table.files().size());
    const FileInfo& f = table.files()[t.file];
    EXPECT_EQ(std::filesystem::path(f.path).filename().string(), m.shard_of.at(t.name));
    EXPECT_TRUE(std::filesystem::equivalent(f.path, dir.file(m.shard_of.at(t.name))));
    EXPECT_EQ(t.dtype, it->second.dtype);
    EXPECT_EQ(t.shape, it->second.shape);
    EXPECT_EQ(t.nbytes, it->second.nbytes);
    EXPECT_GE(t.offset, f.data_offset);
    if (!contents.count(f.path)) contents[f.path] = read_file(f.path);
    const auto& raw = contents[f.path];
    EXPECT_EQ(f.size, raw.size());
    ASSERT_LE(t.offset + t.nbytes, raw.size());
    std::vector<std::byte> got(raw.begin() + static_cast<std::ptrdiff_t>(t.offset),
                               raw.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
    EXPECT_EQ(got, pattern(t.nbytes, static_cast<uint32_t>(t.name.size())));
  }
}

void expect_error(const Error& e, const std::string& file, const std::string& tensor,
                  std::optional<uint64_t> offset, const std::vector<std::string>& phrases) {
  EXPECT_EQ(e.file, file) << e.to_string();
  EXPECT_EQ(e.tensor, tensor) << e.to_string();
  EXPECT_EQ(e.offset, offset) << e.to_string();
  for (const auto& p : phrases) EXPECT_NE(e.message.find(p), std::string::npos) << e.message << "\nwanted: " << p;
}

TEST(SafetensorsIndex, ThreeShardsOpenAsOneTable) {
  TempDir dir;
  Sharded m = make_three_shards(dir);
  auto table = open_shard_index(m.index, {});
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  expect_matches(*table, m, dir);
  // Names are unique across shards.
  ASSERT_TRUE(table->check_unique_names().ok());
  const TensorInfo* k = table->find("layers.0.attn.k");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(std::filesystem::path(table->files()[k->file].path).filename(), kShard2);
}

TEST(SafetensorsIndex, OpenModelPathOnIndexFile) {
  TempDir dir;
  Sharded m = make_three_shards(dir);
  auto table = open_model_path(m.index);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  expect_matches(*table, m, dir);
  auto both = open_model({m.index});
  ASSERT_TRUE(both.ok()) << both.error().to_string();
  EXPECT_NE(both->find("lm_head.weight"), nullptr);
}

TEST(SafetensorsIndex, ShardsInASubfolder) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("shards"));
  write_shard(dir.file("shards/a.safetensors"), {{"x", DType::U8, {4}, 4}});
  write_shard(dir.file("shards/b.safetensors"), {{"y", DType::U16, {2}, 4}});
  std::string index = dir.file("m.safetensors.index.json");
  write_text(index, index_json({{"x", "shards/a.safetensors"}, {"y", "./shards/b.safetensors"}}));
  auto table = open_shard_index(index, {});
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tensors().size(), 2u);
  for (const auto& t : table->tensors())
    EXPECT_EQ(std::filesystem::path(table->files()[t.file].path).filename().string(),
              t.name == "x" ? "a.safetensors" : "b.safetensors");
}

TEST(SafetensorsIndex, ParseKeepsShardOrderWeightMapOrderAndMetadata) {
  std::string json = index_json({{"c", "s2.safetensors"}, {"a", "s1.safetensors"}, {"b", "s2.safetensors"}},
                                R"({"total_size": 1234, "format": "pt", "nested": {"k": [1, 2]}})");
  auto idx = parse_safetensors_index(json, "i.json");
  ASSERT_TRUE(idx.ok()) << idx.error().to_string();
  EXPECT_EQ(idx->shards, (std::vector<std::string>{"s2.safetensors", "s1.safetensors"}));
  ASSERT_EQ(idx->weight_map.size(), 3u);
  EXPECT_EQ(idx->weight_map[0], (std::pair<std::string, size_t>{"c", 0}));
  EXPECT_EQ(idx->weight_map[1], (std::pair<std::string, size_t>{"a", 1}));
  EXPECT_EQ(idx->weight_map[2], (std::pair<std::string, size_t>{"b", 0}));
  ASSERT_EQ(idx->metadata.size(), 3u);
  EXPECT_EQ(idx->metadata[0].first, "total_size");
  EXPECT_EQ(idx->metadata[0].second, MetaValue::str("1234"));
  EXPECT_EQ(idx->metadata[1].second, MetaValue::str("pt"));
  EXPECT_EQ(idx->metadata[2].first, "nested");
  EXPECT_EQ(idx->metadata[2].second, MetaValue::str(R"({"k":[1,2]})"));
}

TEST(SafetensorsIndex, ParseWithoutMetadataIsFine) {
  auto idx = parse_safetensors_index(R"({"weight_map": {"a": "x.safetensors"}})", "i.json");
  ASSERT_TRUE(idx.ok()) << idx.error().to_string();
  EXPECT_TRUE(idx->metadata.empty());
  EXPECT_EQ(idx->shards.size(), 1u);
}

TEST(SafetensorsIndex, TensorListedButMissingFromItsShard) {
  TempDir dir;
  write_shard(dir.file(kShard1), {{"a", DType::F32, {2}, 8}});
  write_shard(dir.file(kShard2), {{"b", DType::F32, {2}, 8}});
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, index_json({{"a", kShard1}, {"b", kShard2}, {"ghost", kShard2}}));
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "ghost", std::nullopt, {"missing", kShard2});
}

TEST(SafetensorsIndex, TensorInTwoShards) {
  TempDir dir;
  write_shard(dir.file(kShard1), {{"a", DType::F32, {2}, 8}, {"dup", DType::U8, {1}, 1}});
  write_shard(dir.file(kShard2), {{"b", DType::F32, {2}, 8}, {"dup", DType::U8, {1}, 1}});
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, index_json({{"a", kShard1}, {"dup", kShard1}, {"b", kShard2}}));
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.tensor, "dup");
  EXPECT_NE(e.message.find("two shards"), std::string::npos) << e.message;
  // Both shards are named between the file field and the message.
  std::string s = e.to_string();
  EXPECT_NE(s.find(kShard1), std::string::npos) << s;
  EXPECT_NE(s.find(kShard2), std::string::npos) << s;
  EXPECT_TRUE(e.offset.has_value());
}

TEST(SafetensorsIndex, TensorInShardButNotInIndex) {
  TempDir dir;
  write_shard(dir.file(kShard1), {{"a", DType::F32, {2}, 8}, {"stray", DType::I16, {3}, 6}});
  write_shard(dir.file(kShard2), {{"b", DType::F32, {2}, 8}});
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, index_json({{"a", kShard1}, {"b", kShard2}}));
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  const Error& e = r.error();
  EXPECT_EQ(e.tensor, "stray");
  EXPECT_EQ(std::filesystem::path(e.file).filename(), kShard1) << e.to_string();
  EXPECT_NE(e.message.find("not listed in the index"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(index), std::string::npos) << e.message;
  // The offset is the tensor's data in its shard.
  auto shard = open_model_path(dir.file(kShard1));
  ASSERT_TRUE(shard.ok());
  ASSERT_TRUE(shard->check_unique_names().ok());
  EXPECT_EQ(e.offset, std::optional<uint64_t>(shard->find("stray")->offset));
}

TEST(SafetensorsIndex, IndexAssignsTensorToTheWrongShard) {
  TempDir dir;
  write_shard(dir.file(kShard1), {{"a", DType::F32, {2}, 8}});
  write_shard(dir.file(kShard2), {{"b", DType::F32, {2}, 8}, {"c", DType::U8, {2}, 2}});
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, index_json({{"a", kShard1}, {"b", kShard2}, {"c", kShard1}}));
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "c", std::nullopt, {"assigns it to shard", kShard1, kShard2});
}

TEST(SafetensorsIndex, UnsafeShardNames) {
  for (std::string shard : {"../x.safetensors", "a/../../x.safetensors", "sub/../x.safetensors", "/etc/passwd",
                            "/tmp/x.safetensors", "..", ""}) {
    SCOPED_TRACE(shard);
    std::string json = index_json({{"ok", "fine.safetensors"}, {"evil", shard}});
    auto r = parse_safetensors_index(json, "idx.json");
    ASSERT_FALSE(r.ok());
    expect_error(r.error(), "idx.json", "evil", std::nullopt, {"not a relative path"});
  }
}

TEST(SafetensorsIndex, UnsafeShardNameRefusedBeforeAnythingIsOpened) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("inner"));
  // A valid shard outside the index's folder: must not be reached.
  write_shard(dir.file("outside.safetensors"), {{"a", DType::U8, {1}, 1}});
  std::string index = dir.file("inner/model.safetensors.index.json");
  write_text(index, index_json({{"a", "../outside.safetensors"}}));
  auto r = open_model_path(index);
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "a", std::nullopt, {"not a relative path"});
  write_text(index, index_json({{"a", dir.file("outside.safetensors")}}));
  r = open_model_path(index);
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "a", std::nullopt, {"not a relative path"});
}

TEST(SafetensorsIndex, MissingShardFile) {
  TempDir dir;
  write_shard(dir.file(kShard1), {{"a", DType::F32, {2}, 8}});
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, index_json({{"a", kShard1}, {"b", kShard2}}));
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "", std::nullopt, {"cannot open shard", kShard2});
}

TEST(SafetensorsIndex, CorruptShardReportsTheShard) {
  TempDir dir;
  write_shard(dir.file(kShard1), {{"a", DType::F32, {2}, 8}});
  write_text(dir.file(kShard2), "not a safetensors file at all");
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, index_json({{"a", kShard1}, {"b", kShard2}}));
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, dir.file(kShard2)) << r.error().to_string();
  EXPECT_TRUE(r.error().offset.has_value());
}

TEST(SafetensorsIndex, InvalidJson) {
  for (std::string json : {"", "{", "{\"weight_map\": {\"a\": \"x.safetensors\",}}", "weight_map", "{} {}"}) {
    SCOPED_TRACE(json);
    auto r = parse_safetensors_index(json, "i.json");
    ASSERT_FALSE(r.ok());
    expect_error(r.error(), "i.json", "", std::nullopt, {"not valid JSON"});
  }
}

TEST(SafetensorsIndex, NotAnObject) {
  auto r = parse_safetensors_index("[\"weight_map\"]", "i.json");
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), "i.json", "", std::nullopt, {"not a JSON object"});
}

TEST(SafetensorsIndex, NoWeightMap) {
  for (std::string json : {R"({"metadata": {}})", R"({"weight_map": ["a"]})", R"({"weight_map": "a"})",
                           R"({"Weight_Map": {"a": "x.safetensors"}})"}) {
    SCOPED_TRACE(json);
    auto r = parse_safetensors_index(json, "i.json");
    ASSERT_FALSE(r.ok());
    expect_error(r.error(), "i.json", "", std::nullopt, {"weight_map"});
  }
}

TEST(SafetensorsIndex, WeightMapValueNotAString) {
  auto r = parse_safetensors_index(R"({"weight_map": {"a": "x.safetensors", "b": 3}})", "i.json");
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), "i.json", "b", std::nullopt, {"not a file name string"});
}

TEST(SafetensorsIndex, DuplicateKeysInWeightMap) {
  // Even pointing at the same shard: the index is ambiguous.
  for (std::string second : {"x.safetensors", "y.safetensors"}) {
    SCOPED_TRACE(second);
    std::string json = index_json({{"a", "x.safetensors"}, {"b", "x.safetensors"}, {"a", second}});
    auto r = parse_safetensors_index(json, "i.json");
    ASSERT_FALSE(r.ok());
    expect_error(r.error(), "i.json", "a", std::nullopt, {"listed twice"});
  }
}

TEST(SafetensorsIndex, EmptyIndexFile) {
  TempDir dir;
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, "");
  auto r = open_shard_index(index, {});
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "", 0, {"empty"});
}

TEST(SafetensorsIndex, MissingIndexFile) {
  TempDir dir;
  std::string index = dir.file("nope.safetensors.index.json");
  auto r = open_model_path(index);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, index);
  EXPECT_NE(r.error().message.find("cannot open"), std::string::npos) << r.error().message;
}

TEST(SafetensorsIndex, OpenErrorsFromParseCarryTheIndexPath) {
  TempDir dir;
  std::string index = dir.file("model.safetensors.index.json");
  write_text(index, R"({"metadata": {"total_size": 1}})");
  auto r = open_model_path(index);
  ASSERT_FALSE(r.ok());
  expect_error(r.error(), index, "", std::nullopt, {"weight_map"});
}

}  // namespace
}  // namespace wm
