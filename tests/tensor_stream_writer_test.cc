// The streaming writers: the header goes out first, tensor bytes follow in
// chunks of any size. Layouts are checked byte by byte against the formats'
// specs (GGUF: github.com/ggml-org/ggml docs/gguf.md; safetensors: the
// huggingface/safetensors README), and read back through our parsers.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "format/gguf_writer.h"
#include "format/model_path.h"
#include "format/safetensors_writer.h"
#include "test_support.h"

namespace wm {
namespace {

using test::pattern;
using test::read_file;
using test::TempDir;

template <class T>
T get(const std::vector<std::byte>& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

std::vector<std::byte> slice(const std::vector<std::byte>& b, size_t at, size_t n) {
  return {b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + n)};
}

// Appends `bytes` in pieces of `piece` bytes, as a converter streams them.
void append_in_pieces(TensorStreamWriter& w, const std::vector<std::byte>& bytes, size_t piece) {
  for (size_t at = 0; at < bytes.size(); at += piece)
    ASSERT_TRUE(w.append({bytes.data() + at, std::min(piece, bytes.size() - at)}));
}

TEST(TensorStreamWriter, GgufHeaderFirstThenChunksLaidOutAsTheSpecSays) {
  TempDir dir;
  std::string path = dir.file("m.gguf");
  GgufWriter w;
  w.add_metadata("general.name", MetaValue::str("tiny"));
  w.add_tensor("a", DType::F32, {3});       // 12 bytes: padded to 32
  w.add_tensor("b", DType::F16, {2, 5});    // 20 bytes, the last: no padding after
  auto s = w.open_stream(path);
  ASSERT_TRUE(s) << s.error().to_string();
  auto a = pattern(12, 1), b = pattern(20, 2);
  append_in_pieces(*s, a, 5);
  EXPECT_EQ(s->current(), 1u);
  append_in_pieces(*s, b, 7);
  EXPECT_FALSE(std::filesystem::exists(path)) << "visible before commit";
  ASSERT_TRUE(s->commit());

  auto f = read_file(path);
  // magic "GGUF", version, tensor count, KV count (u64s in v3).
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data()), 4), "GGUF");
  EXPECT_EQ(get<uint32_t>(f, 4), 3u);
  EXPECT_EQ(get<uint64_t>(f, 8), 2u);
  EXPECT_EQ(get<uint64_t>(f, 16), 1u);
  // KV: key (u64 length + bytes), value type u32 (8 = string), value.
  size_t at = 24;
  EXPECT_EQ(get<uint64_t>(f, at), 12u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data() + at + 8), 12), "general.name");
  at += 8 + 12;
  EXPECT_EQ(get<uint32_t>(f, at), 8u);
  EXPECT_EQ(get<uint64_t>(f, at + 4), 4u);
  at += 4 + 8 + 4;
  // Tensor infos: name, n_dims u32, dims innermost first (u64), type u32, offset u64.
  EXPECT_EQ(get<uint64_t>(f, at), 1u);
  at += 8 + 1;
  EXPECT_EQ(get<uint32_t>(f, at), 1u);
  EXPECT_EQ(get<uint64_t>(f, at + 4), 3u);
  EXPECT_EQ(get<uint32_t>(f, at + 12), 0u);  // GGML_TYPE_F32
  EXPECT_EQ(get<uint64_t>(f, at + 16), 0u);
  at += 24;
  EXPECT_EQ(get<uint64_t>(f, at), 1u);
  at += 8 + 1;
  EXPECT_EQ(get<uint32_t>(f, at), 2u);
  EXPECT_EQ(get<uint64_t>(f, at + 4), 5u);
  EXPECT_EQ(get<uint64_t>(f, at + 12), 2u);
  EXPECT_EQ(get<uint32_t>(f, at + 20), 1u);  // GGML_TYPE_F16
  EXPECT_EQ(get<uint64_t>(f, at + 24), 32u);  // 12 bytes aligned up to 32
  at += 32;
  size_t data = (at + 31) / 32 * 32;
  ASSERT_EQ(f.size(), data + 32 + 20);
  EXPECT_EQ(slice(f, data, 12), a);
  EXPECT_EQ(slice(f, data + 12, 20), std::vector<std::byte>(20)) << "padding is zeros";
  EXPECT_EQ(slice(f, data + 32, 20), b);

  auto t = open_model_path(path);
  ASSERT_TRUE(t) << t.error().to_string();
  ASSERT_EQ(t->tensors().size(), 2u);
  EXPECT_EQ(t->tensors()[1].offset, data + 32);
  EXPECT_EQ(t->tensors()[1].shape, (std::vector<uint64_t>{2, 5}));
}

TEST(TensorStreamWriter, SafetensorsHeaderLengthJsonPaddingThenData) {
  TempDir dir;
  std::string path = dir.file("m.safetensors");
  SafetensorsWriter w;
  w.add_metadata("format", "pt");
  w.add_tensor("x", DType::BF16, {3});
  w.add_tensor("empty", DType::F32, {0});
  w.add_tensor("y", DType::U8, {5});
  auto s = w.open_stream(path);
  ASSERT_TRUE(s) << s.error().to_string();
  auto x = pattern(6, 3), y = pattern(5, 4);
  append_in_pieces(*s, x, 4);
  EXPECT_EQ(s->current(), 2u) << "an empty tensor needs no bytes";
  append_in_pieces(*s, y, 1);
  ASSERT_TRUE(s->commit());

  auto f = read_file(path);
  uint64_t n = get<uint64_t>(f, 0);
  EXPECT_EQ((8 + n) % 8, 0u);
  std::string header(reinterpret_cast<const char*>(f.data() + 8), n);
  EXPECT_EQ(header.substr(0, 36), R"({"__metadata__":{"format":"pt"},"x":)");
  EXPECT_NE(header.find(R"("y":{"dtype":"U8","shape":[5],"data_offsets":[6,11]})"), std::string::npos) << header;
  ASSERT_EQ(f.size(), 8 + n + 11);
  EXPECT_EQ(slice(f, 8 + n, 6), x);
  EXPECT_EQ(slice(f, 8 + n + 6, 5), y);
  auto t = open_model_path(path);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->tensors().size(), 3u);
}

TEST(TensorStreamWriter, RefusesBytesPastATensorAndAnIncompleteCommitLeavesNothing) {
  TempDir dir;
  std::string path = dir.file("m.safetensors");
  {
    SafetensorsWriter w;
    w.add_tensor("x", DType::F32, {2});
    auto s = w.open_stream(path);
    ASSERT_TRUE(s);
    Status too_much = s->append(pattern(12, 5));
    ASSERT_FALSE(too_much);
    EXPECT_EQ(too_much.error().tensor, "x");
    ASSERT_TRUE(s->append(pattern(4, 5)));
    Status early = s->commit();
    ASSERT_FALSE(early);
    EXPECT_NE(early.error().message.find("incomplete: 4 of 8 bytes"), std::string::npos) << early.error().message;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "no file, no temporary left";
}

TEST(TensorStreamWriter, WholeWriteStillRefusesATensorWithoutData) {
  TempDir dir;
  GgufWriter w;
  w.add_tensor("x", DType::F32, {2});
  Status s = w.write(dir.file("m.gguf"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().tensor, "x");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace wm
