// GGUF round trips: GgufWriter -> parse_gguf, checked against the GGUF spec
// (header layout, dims innermost-first on disk, offsets relative to an
// aligned data section) with sizes computed here, not taken from the code.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "dtype/dtype.h"
#include "format/byte_source.h"
#include "format/gguf_reader.h"
#include "format/gguf_writer.h"
#include "io/file.h"
#include "test_support.h"

namespace wm {
namespace {

using test::read_file;
using test::TempDir;

// ggml block sizes (elements, bytes) by ggml_type id, from ggml's block
// structs; -1 marks ids that are not types.
struct Block {
  int32_t elems, bytes;
};
Block ggml_block(uint32_t id) {
  static const Block kBlocks[] = {
      {1, 4},     {1, 2},    {32, 18},  {32, 20},   {-1, -1},  {-1, -1},  {32, 22},   {32, 24},
      {32, 34},   {32, 36},  {256, 84}, {256, 110}, {256, 144}, {256, 176}, {256, 210}, {256, 292},
      {256, 66},  {256, 74}, {256, 98}, {256, 50},  {32, 18},  {256, 110}, {256, 82},  {256, 136},
      {1, 1},     {1, 2},    {1, 4},    {1, 8},     {1, 8},    {256, 56},  {1, 2},     {-1, -1},
      {-1, -1},   {-1, -1},  {256, 54}, {256, 66},  {-1, -1},  {-1, -1},  {-1, -1},   {32, 17}};
  return id < std::size(kBlocks) ? kBlocks[id] : Block{-1, -1};
}

uint64_t expected_nbytes(uint32_t gguf_id, const std::vector<uint64_t>& shape) {
  Block b = ggml_block(gguf_id);
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n / static_cast<uint64_t>(b.elems) * static_cast<uint64_t>(b.bytes);
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Encoded length of a value (without its type field), from the GGUF spec.
uint64_t value_size(const MetaValue& v) {
  switch (v.type) {
    case MetaType::U8: case MetaType::I8: case MetaType::BOOL: return 1;
    case MetaType::U16: case MetaType::I16: return 2;
    case MetaType::U32: case MetaType::I32: case MetaType::F32: return 4;
    case MetaType::U64: case MetaType::I64: case MetaType::F64: return 8;
    case MetaType::STRING: return 8 + std::get<std::string>(v.v).size();
    case MetaType::ARRAY: {
      uint64_t n = 4 + 8;
      for (const auto& item : std::get<std::vector<MetaValue>>(v.v)) n += value_size(item);
      return n;
    }
  }
  ADD_FAILURE() << "bad type";
  return 0;
}
uint64_t kv_size(const std::string& key, const MetaValue& v) { return 8 + key.size() + 4 + value_size(v); }
uint64_t tensor_info_size(const std::string& name, size_t rank) { return 8 + name.size() + 4 + 8 * rank + 4 + 8; }

template <class T>
T peek(const std::vector<std::byte>& bytes, uint64_t at) {
  T v;
  std::memcpy(&v, bytes.data() + at, sizeof(T));
  return v;
}

std::vector<std::byte> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

Result<TensorTable> parse_bytes(const std::vector<std::byte>& bytes, const std::string& name) {
  MemorySource src(bytes, name);
  return parse_gguf(src);
}

// Writes and parses; fails the test on any error.
struct RoundTrip {
  std::vector<std::byte> bytes;
  TensorTable table;
};
RoundTrip round_trip(const GgufWriter& w, const TempDir& dir, const std::string& name = "m.gguf") {
  RoundTrip rt;
  Status s = w.write(dir.file(name));
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().to_string());
  rt.bytes = read_file(dir.file(name));
  auto parsed = parse_bytes(rt.bytes, dir.file(name));
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().to_string());
  if (parsed.ok()) rt.table = std::move(parsed).value();
  return rt;
}

MetaValue u(MetaType t, uint64_t x) { return MetaValue::u(t, x); }
MetaValue i(MetaType t, int64_t x) { return MetaValue::i(t, x); }
MetaValue f(MetaType t, double x) { return MetaValue::f(t, x); }
MetaValue s(std::string x) { return MetaValue::str(std::move(x)); }
MetaValue arr(MetaType t, std::vector<MetaValue> xs) { return MetaValue::array(t, std::move(xs)); }

// One key per value type with its extreme values, arrays of each, nested
// arrays, empty arrays and strings.
Metadata every_kind_of_metadata() {
  using M = MetaType;
  Metadata m;
  m.emplace_back("u8", u(M::U8, 255));
  m.emplace_back("u8.zero", u(M::U8, 0));
  m.emplace_back("i8", i(M::I8, -128));
  m.emplace_back("i8.max", i(M::I8, 127));
  m.emplace_back("u16", u(M::U16, 65535));
  m.emplace_back("i16", i(M::I16, -32768));
  m.emplace_back("u32", u(M::U32, 0xffffffffu));
  m.emplace_back("i32", i(M::I32, INT32_MIN));
  m.emplace_back("f32", f(M::F32, -1.5));
  m.emplace_back("f32.max", f(M::F32, FLT_MAX));
  m.emplace_back("f32.tiny", f(M::F32, FLT_TRUE_MIN));
  m.emplace_back("f32.inf", f(M::F32, -INFINITY));
  m.emplace_back("bool.true", u(M::BOOL, 1));
  m.emplace_back("bool.false", u(M::BOOL, 0));
  m.emplace_back("string", s("hello, GGUF"));
  m.emplace_back("string.empty", s(""));
  m.emplace_back("string.nul", s(std::string("a\0b\xff", 4)));
  m.emplace_back("string.utf8", s("\xe2\x82\xac \xf0\x9f\x98\x80"));
  m.emplace_back("u64", u(M::U64, UINT64_MAX));
  m.emplace_back("i64", i(M::I64, INT64_MIN));
  m.emplace_back("f64", f(M::F64, 3.141592653589793));
  m.emplace_back("f64.min", f(M::F64, DBL_TRUE_MIN));
  m.emplace_back("", s("empty key"));
  m.emplace_back("arr.u8", arr(M::U8, {u(M::U8, 0), u(M::U8, 7), u(M::U8, 255)}));
  m.emplace_back("arr.i8", arr(M::I8, {i(M::I8, -1), i(M::I8, 127)}));
  m.emplace_back("arr.u16", arr(M::U16, {u(M::U16, 1), u(M::U16, 65535)}));
  m.emplace_back("arr.i16", arr(M::I16, {i(M::I16, -2), i(M::I16, 300)}));
  m.emplace_back("arr.u32", arr(M::U32, {u(M::U32, 123456789)}));
  m.emplace_back("arr.i32", arr(M::I32, {i(M::I32, -123456789), i(M::I32, INT32_MAX)}));
  m.emplace_back("arr.f32", arr(M::F32, {f(M::F32, 0.25), f(M::F32, -0.0), f(M::F32, 0x1p-140)}));
  m.emplace_back("arr.bool", arr(M::BOOL, {u(M::BOOL, 1), u(M::BOOL, 0), u(M::BOOL, 1)}));
  m.emplace_back("arr.string", arr(M::STRING, {s("a"), s(""), s("longer string value")}));
  m.emplace_back("arr.u64", arr(M::U64, {u(M::U64, 0), u(M::U64, UINT64_MAX)}));
  m.emplace_back("arr.i64", arr(M::I64, {i(M::I64, INT64_MAX), i(M::I64, -5)}));
  m.emplace_back("arr.f64", arr(M::F64, {f(M::F64, 1e300), f(M::F64, -2.5)}));
  m.emplace_back("arr.empty.u8", arr(M::U8, {}));
  m.emplace_back("arr.empty.string", arr(M::STRING, {}));
  m.emplace_back("arr.empty.array", arr(M::ARRAY, {}));
  // Arrays of arrays: each inner array carries its own element type.
  m.emplace_back("arr.nested",
                 arr(M::ARRAY, {arr(M::U8, {u(M::U8, 1), u(M::U8, 2)}), arr(M::STRING, {s("x"), s("")}),
                                arr(M::F64, {}), arr(M::ARRAY, {arr(M::I64, {i(M::I64, -1)}), arr(M::BOOL, {})})}));
  MetaValue deep = arr(M::U32, {u(M::U32, 42)});
  for (int k = 0; k < 6; ++k) deep = arr(M::ARRAY, {deep});
  m.emplace_back("arr.deep", deep);
  std::vector<MetaValue> tokens;
  for (int k = 0; k < 1000; ++k) tokens.push_back(s("tok" + std::to_string(k)));
  m.emplace_back("tokenizer.ggml.tokens", arr(M::STRING, std::move(tokens)));
  return m;
}

class GgufVersion : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufVersion, EveryMetadataTypeRoundTrips) {
  TempDir dir;
  GgufWriter w(GetParam());
  Metadata want = every_kind_of_metadata();
  for (const auto& [k, v] : want) w.add_metadata(k, v);
  RoundTrip rt = round_trip(w, dir);
  ASSERT_EQ(rt.table.files().size(), 1u);
  const FileInfo& file = rt.table.files()[0];
  EXPECT_EQ(file.version, GetParam());
  EXPECT_EQ(file.format, FileFormat::kGguf);
  EXPECT_EQ(file.path, dir.file("m.gguf"));
  EXPECT_EQ(file.size, rt.bytes.size());
  EXPECT_EQ(file.alignment, 32u);
  EXPECT_TRUE(rt.table.tensors().empty());
  ASSERT_EQ(file.metadata.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(file.metadata[k].first, want[k].first);
    EXPECT_TRUE(file.metadata[k].second == want[k].second) << "key '" << want[k].first << "': got "
                                                            << meta_to_string(file.metadata[k].second);
  }
  // -0.0 compares equal to 0.0; check the sign survived.
  auto arr_f32 = std::find_if(file.metadata.begin(), file.metadata.end(),
                              [](const auto& kv) { return kv.first == "arr.f32"; });
  ASSERT_NE(arr_f32, file.metadata.end());
  const auto& f32s = std::get<std::vector<MetaValue>>(arr_f32->second.v);
  EXPECT_TRUE(std::signbit(std::get<double>(f32s[1].v)));

  uint64_t header = 24;
  for (const auto& [k, v] : want) header += kv_size(k, v);
  EXPECT_EQ(file.data_offset, align_up(header, 32));
  // The version field is at byte 4, counts at 8 and 16.
  EXPECT_EQ(peek<uint32_t>(rt.bytes, 4), GetParam());
  EXPECT_EQ(peek<uint64_t>(rt.bytes, 8), 0u);
  EXPECT_EQ(peek<uint64_t>(rt.bytes, 16), want.size());
}

INSTANTIATE_TEST_SUITE_P(V2AndV3, GgufVersion, ::testing::Values(2u, 3u));

// The writer's bytes, assembled by hand from the spec.
TEST(GgufWriter, BytesMatchTheSpec) {
  TempDir dir;
  GgufWriter w(3);
  w.add_metadata("k", u(MetaType::U32, 7));
  std::vector<std::byte> data = random_bytes(24, 1);
  w.add_tensor("t", DType::F32, {2, 3}, TensorData::bytes(data));
  ASSERT_TRUE(w.write(dir.file("a.gguf")).ok());

  std::vector<std::byte> want;
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    want.insert(want.end(), b, b + n);
  };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  put("GGUF", 4);
  u32(3);
  u64(1);  // tensors
  u64(1);  // key/values
  u64(1);
  put("k", 1);
  u32(4);  // u32
  u32(7);
  u64(1);
  put("t", 1);
  u32(2);  // dims
  u64(3);  // ne[0]: innermost first
  u64(2);
  u32(0);  // F32
  u64(0);  // offset within the data section
  ASSERT_EQ(want.size(), 24u + 8 + 1 + 4 + 4 + 8 + 1 + 4 + 16 + 4 + 8);
  want.resize(96);  // padding up to the 32-byte alignment
  put(data.data(), data.size());
  EXPECT_EQ(read_file(dir.file("a.gguf")), want);

  auto parsed = parse_bytes(want, "hand.gguf");
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  ASSERT_EQ(parsed->tensors().size(), 1u);
  EXPECT_EQ(parsed->tensors()[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(parsed->tensors()[0].offset, 96u);
  EXPECT_EQ(parsed->tensors()[0].nbytes, 24u);
  EXPECT_EQ(parsed->files()[0].data_offset, 96u);
}

struct Layout {
  uint32_t version;
  uint32_t alignment;
};

class GgufTensors : public ::testing::TestWithParam<Layout> {};

std::vector<std::vector<uint64_t>> shapes_for(uint64_t block) {
  return {{2 * block}, {3, block}, {2, 1, 2 * block}, {1, 2, 3, block}};
}

TEST_P(GgufTensors, EveryGgufDtypeAndRankRoundTrips) {
  const auto [version, alignment] = GetParam();
  TempDir dir;
  GgufWriter w(version, alignment);
  w.add_metadata("general.name", s("round trip"));
  struct Want {
    std::string name;
    DType dtype;
    std::vector<uint64_t> shape;
    std::vector<std::byte> data;
  };
  std::vector<Want> want;
  uint64_t header = 24 + kv_size("general.name", s("round trip"));
  if (alignment != 32) header += kv_size("general.alignment", u(MetaType::U32, alignment));
  for (uint32_t id = 0; id < 64; ++id) {
    Block b = ggml_block(id);
    if (b.elems < 0) continue;
    auto dtype = dtype_from_gguf_id(id);
    ASSERT_TRUE(dtype.has_value()) << id;
    for (const auto& shape : shapes_for(static_cast<uint64_t>(b.elems))) {
      std::string name = "blk." + std::string(dtype_name(*dtype)) + ".rank" + std::to_string(shape.size());
      std::vector<std::byte> data = random_bytes(expected_nbytes(id, shape), want.size() + 100);
      w.add_tensor(name, *dtype, shape, TensorData::bytes(data));
      header += tensor_info_size(name, shape.size());
      want.push_back({name, *dtype, shape, std::move(data)});
    }
  }
  RoundTrip rt = round_trip(w, dir);
  const FileInfo& file = rt.table.files().at(0);
  EXPECT_EQ(file.version, version);
  EXPECT_EQ(file.alignment, alignment);
  EXPECT_EQ(file.data_offset, align_up(header, alignment));
  if (alignment != 32) {
    auto it = std::find_if(file.metadata.begin(), file.metadata.end(),
                           [](const auto& kv) { return kv.first == "general.alignment"; });
    ASSERT_NE(it, file.metadata.end());
    EXPECT_TRUE(it->second == u(MetaType::U32, alignment));
  } else {
    for (const auto& kv : file.metadata) EXPECT_NE(kv.first, "general.alignment");
  }

  ASSERT_EQ(rt.table.tensors().size(), want.size());
  uint64_t info_at = 24;
  for (const auto& kv : file.metadata) info_at += kv_size(kv.first, kv.second);
  for (size_t k = 0; k < want.size(); ++k) {
    const TensorInfo& t = rt.table.tensors()[k];
    SCOPED_TRACE(want[k].name);
    EXPECT_EQ(t.name, want[k].name);
    EXPECT_EQ(t.dtype, want[k].dtype);
    EXPECT_EQ(t.shape, want[k].shape);  // outermost first
    EXPECT_EQ(t.file, 0u);
    EXPECT_EQ(t.nbytes, want[k].data.size());
    EXPECT_EQ(t.offset % alignment, 0u);
    EXPECT_GE(t.offset, file.data_offset);
    ASSERT_LE(t.offset + t.nbytes, rt.bytes.size());
    EXPECT_TRUE(std::equal(want[k].data.begin(), want[k].data.end(), rt.bytes.begin() + static_cast<ptrdiff_t>(t.offset)));
    // On disk: dims innermost first, then the type id, then the offset
    // relative to the data section.
    uint64_t at = info_at + 8 + t.name.size();
    ASSERT_EQ(peek<uint32_t>(rt.bytes, at), t.shape.size());
    for (size_t d = 0; d < t.shape.size(); ++d)
      EXPECT_EQ(peek<uint64_t>(rt.bytes, at + 4 + 8 * d), t.shape[t.shape.size() - 1 - d]);
    at += 4 + 8 * t.shape.size();
    EXPECT_EQ(peek<uint32_t>(rt.bytes, at), static_cast<uint32_t>(dtype_info(t.dtype).gguf_id));
    EXPECT_EQ(peek<uint64_t>(rt.bytes, at + 4) + file.data_offset, t.offset);
    info_at += tensor_info_size(t.name, t.shape.size());
  }
  // No two tensors share a byte.
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : rt.table.tensors()) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < sorted.size(); ++k) EXPECT_LE(sorted[k - 1]->offset + sorted[k - 1]->nbytes, sorted[k]->offset);
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufTensors,
                         ::testing::Values(Layout{3, 32}, Layout{2, 32}, Layout{3, 64}, Layout{2, 64}, Layout{3, 1},
                                           Layout{3, 8}, Layout{3, 4096}),
                         [](const auto& p) {
                           // fmt, not std::string +: GCC 12 -Wrestrict misfires on the latter.
                           return fmt::format("v{}_align{}", p.param.version, p.param.alignment);
                         });

TEST(GgufRoundTrip, ZeroTensors) {
  TempDir dir;
  {
    GgufWriter w;
    RoundTrip rt = round_trip(w, dir, "empty.gguf");
    ASSERT_EQ(rt.table.files().size(), 1u);
    EXPECT_TRUE(rt.table.tensors().empty());
    EXPECT_TRUE(rt.table.files()[0].metadata.empty());
    EXPECT_EQ(rt.table.files()[0].data_offset, 32u);  // the 24-byte header, aligned
    EXPECT_EQ(rt.table.files()[0].version, 3u);
  }
  {
    GgufWriter w(2, 64);
    w.add_metadata("a", s("b"));
    RoundTrip rt = round_trip(w, dir, "meta.gguf");
    EXPECT_TRUE(rt.table.tensors().empty());
    EXPECT_EQ(rt.table.files().at(0).data_offset, align_up(24 + kv_size("general.alignment", u(MetaType::U32, 64)) +
                                                             kv_size("a", s("b")),
                                                         64));
  }
}

TEST(GgufRoundTrip, ZeroSizedTensors) {
  TempDir dir;
  GgufWriter w;
  std::vector<std::byte> a = random_bytes(16, 5), c = random_bytes(34, 6);
  w.add_tensor("a", DType::F32, {4}, TensorData::bytes(a));
  w.add_tensor("empty", DType::F16, {0, 7}, TensorData::bytes({}));
  w.add_tensor("empty.q", DType::Q4_K, {3, 0}, TensorData::bytes({}));
  w.add_tensor("c", DType::Q8_0, {1, 32}, TensorData::bytes(c));
  RoundTrip rt = round_trip(w, dir);
  ASSERT_EQ(rt.table.tensors().size(), 4u);
  EXPECT_EQ(rt.table.tensors()[1].shape, (std::vector<uint64_t>{0, 7}));
  EXPECT_EQ(rt.table.tensors()[1].nbytes, 0u);
  EXPECT_EQ(rt.table.tensors()[2].nbytes, 0u);
  EXPECT_EQ(rt.table.tensors()[2].shape, (std::vector<uint64_t>{3, 0}));
  const TensorInfo& tc = rt.table.tensors()[3];
  ASSERT_EQ(tc.nbytes, 34u);
  EXPECT_TRUE(std::equal(c.begin(), c.end(), rt.bytes.begin() + static_cast<ptrdiff_t>(tc.offset)));
}

TEST(GgufRoundTrip, ScalarTensorWithNoDimensions) {
  TempDir dir;
  GgufWriter w;
  std::vector<std::byte> d = random_bytes(4, 9);
  w.add_tensor("scalar", DType::F32, {}, TensorData::bytes(d));
  RoundTrip rt = round_trip(w, dir);
  ASSERT_EQ(rt.table.tensors().size(), 1u);
  EXPECT_TRUE(rt.table.tensors()[0].shape.empty());
  EXPECT_EQ(rt.table.tensors()[0].nbytes, 4u);
}

// A tensor larger than the writer's 8 MiB chunk, produced on demand.
TEST(GgufRoundTrip, LargeTensorStreamedInChunks) {
  TempDir dir;
  const uint64_t rows = 3, cols = 1 << 20;  // 12 MiB of F32
  auto byte_at = [](uint64_t k) { return static_cast<std::byte>((k * 2654435761u) >> 13); };
  TensorData gen{[&](uint64_t offset, std::span<std::byte> out) {
    for (size_t k = 0; k < out.size(); ++k) out[k] = byte_at(offset + k);
  }};
  std::vector<std::byte> small = random_bytes(6, 3);
  GgufWriter w(3, 64);
  w.add_tensor("small", DType::I16, {3}, TensorData::bytes(small));
  w.add_tensor("big", DType::F32, {rows, cols}, gen);
  w.add_tensor("after", DType::I16, {3}, TensorData::bytes(small));
  RoundTrip rt = round_trip(w, dir);
  ASSERT_EQ(rt.table.tensors().size(), 3u);
  const TensorInfo& big = rt.table.tensors()[1];
  ASSERT_EQ(big.nbytes, rows * cols * 4);
  uint64_t mismatches = 0;
  for (uint64_t k = 0; k < big.nbytes; ++k) mismatches += rt.bytes[big.offset + k] != byte_at(k);
  EXPECT_EQ(mismatches, 0u);
  const TensorInfo& after = rt.table.tensors()[2];
  EXPECT_EQ(after.offset % 64, 0u);
  EXPECT_GE(after.offset, big.offset + big.nbytes);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), rt.bytes.begin() + static_cast<ptrdiff_t>(after.offset)));
}

TEST(GgufRoundTrip, ThroughFileSource) {
  TempDir dir;
  GgufWriter w(2);
  std::vector<std::byte> d = random_bytes(18 * 4, 4);
  w.add_metadata("general.architecture", s("llama"));
  w.add_tensor("w", DType::Q4_0, {2, 64}, TensorData::bytes(d));
  ASSERT_TRUE(w.write(dir.file("f.gguf")).ok());
  auto file = File::open(dir.file("f.gguf"));
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  FileSource src(*file);
  auto table = parse_gguf(src);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_EQ(table->files()[0].path, dir.file("f.gguf"));
  EXPECT_EQ(table->files()[0].version, 2u);
  ASSERT_EQ(table->tensors().size(), 1u);
  EXPECT_EQ(table->tensors()[0].dtype, DType::Q4_0);
  EXPECT_EQ(table->tensors()[0].nbytes, d.size());
  EXPECT_TRUE(table->files()[0].metadata.at(0).second == s("llama"));
}

TEST(GgufRoundTrip, ExplicitDefaultAlignmentIsAccepted) {
  TempDir dir;
  GgufWriter w(3, 32);
  w.add_metadata("general.alignment", u(MetaType::U32, 32));
  std::vector<std::byte> d = random_bytes(8, 2);
  w.add_tensor("x", DType::F16, {4}, TensorData::bytes(d));
  RoundTrip rt = round_trip(w, dir);
  EXPECT_EQ(rt.table.files().at(0).alignment, 32u);
  EXPECT_EQ(rt.table.tensors().at(0).offset % 32, 0u);
}

// --------------------------------------------------------- writer refusals

// Write must fail, name `tensor` (may be empty), say `phrase`, and leave no file.
void expect_write_fails(const GgufWriter& w, const std::string& tensor, const std::string& phrase) {
  TempDir dir;
  Status st = w.write(dir.file("out.gguf"));
  ASSERT_FALSE(st.ok()) << "expected: " << phrase;
  EXPECT_EQ(st.error().file, dir.file("out.gguf"));
  EXPECT_EQ(st.error().tensor, tensor);
  EXPECT_NE(st.error().message.find(phrase), std::string::npos) << st.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.gguf")));
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path(), ec)) << "temporary left behind";
}

TEST(GgufWriter, RejectsDuplicateTensorNames) {
  GgufWriter w;
  w.add_tensor("same", DType::F32, {1}, TensorData::bytes(random_bytes(4, 1)));
  w.add_tensor("other", DType::F32, {1}, TensorData::bytes(random_bytes(4, 1)));
  w.add_tensor("same", DType::F32, {1}, TensorData::bytes(random_bytes(4, 1)));
  expect_write_fails(w, "same", "duplicate");
}

TEST(GgufWriter, RejectsDuplicateMetadataKeys) {
  GgufWriter w;
  w.add_metadata("a", s("x"));
  w.add_metadata("a", u(MetaType::U8, 1));
  expect_write_fails(w, "", "duplicate metadata key 'a'");
}

TEST(GgufWriter, RejectsAConflictingAlignmentKey) {
  {
    GgufWriter w(3, 32);
    w.add_metadata("general.alignment", u(MetaType::U32, 64));
    expect_write_fails(w, "", "general.alignment");
  }
  {
    GgufWriter w(3, 32);
    w.add_metadata("general.alignment", u(MetaType::U64, 32));
    expect_write_fails(w, "", "general.alignment");
  }
  {
    GgufWriter w(3, 64);  // already writes general.alignment itself
    w.add_metadata("general.alignment", u(MetaType::U32, 64));
    expect_write_fails(w, "", "general.alignment");
  }
}

TEST(GgufWriter, RejectsBadAlignmentAndVersion) {
  for (uint32_t a : {0u, 3u, 48u, 0x80000001u}) {
    GgufWriter w(3, a);
    w.add_tensor("t", DType::F32, {3}, TensorData::bytes(random_bytes(12, 1)));
    expect_write_fails(w, "", "power of two");
  }
  for (uint32_t v : {0u, 1u, 4u}) {
    GgufWriter w(v);
    expect_write_fails(w, "", "version");
  }
}

TEST(GgufWriter, RejectsTensorsGgufCannotHold) {
  {
    GgufWriter w;
    w.add_tensor("b", DType::BOOL, {4}, TensorData::bytes(random_bytes(4, 1)));
    expect_write_fails(w, "b", "BOOL");
  }
  {
    GgufWriter w;
    w.add_tensor("f4", DType::F4, {4}, TensorData::bytes(random_bytes(2, 1)));
    expect_write_fails(w, "f4", "F4");
  }
  {
    GgufWriter w;
    w.add_tensor("five", DType::F32, {1, 1, 1, 1, 1}, TensorData::bytes(random_bytes(4, 1)));
    expect_write_fails(w, "five", "at most 4");
  }
  {
    GgufWriter w;
    w.add_tensor("q", DType::Q4_0, {2, 31}, TensorData::bytes({}));
    expect_write_fails(w, "q", "multiple");
  }
  {
    GgufWriter w;
    w.add_tensor("huge", DType::F32, {uint64_t{1} << 40, uint64_t{1} << 40}, TensorData::bytes({}));
    expect_write_fails(w, "huge", "");
  }
}

TEST(GgufWriter, RejectsInconsistentMetadataValues) {
  using M = MetaType;
  const std::vector<std::pair<MetaValue, std::string>> bad{
      {MetaValue::u(M::I32, 5), "signed"},                        // variant does not match the type
      {MetaValue::i(M::U8, 5), "unsigned"},                       //
      {MetaValue::u(M::F32, 1), "double"},                        //
      {MetaValue::u(M::STRING, 1), "string"},                     //
      {MetaValue::str("x"), ""},                                  // (valid: control below)
      {MetaValue::u(M::U8, 256), "out of range"},                 //
      {MetaValue::i(M::I16, 40000), "out of range"},              //
      {MetaValue::i(M::I32, int64_t{1} << 40), "out of range"},   //
      {MetaValue::u(M::BOOL, 2), "out of range"},                 //
      {arr(M::U8, {u(M::U32, 1)}), "array item 0"},               // item type differs from elem type
      {arr(M::ARRAY, {u(M::U8, 1)}), "array item 0"},             //
      {arr(M::U16, {u(M::U16, 1), u(M::U16, 70000)}), "array item 1"},
      {MetaValue{static_cast<M>(13), M::U8, uint64_t{1}}, "unknown value type"},
      {MetaValue{M::ARRAY, static_cast<M>(40), std::vector<MetaValue>{}}, "element type"},
  };
  for (const auto& [value, phrase] : bad) {
    SCOPED_TRACE(phrase);
    GgufWriter w;
    w.add_metadata("key", value);
    if (phrase.empty()) {
      TempDir dir;
      EXPECT_TRUE(w.write(dir.file("ok.gguf")).ok());
    } else {
      expect_write_fails(w, "", phrase);
    }
  }
}

}  // namespace
}  // namespace wm

namespace wm {
namespace {

// Loading needs no vocabulary: with array_items off the parser still walks
// (and checks) every array but keeps only element type and length.
TEST(GgufArraySummary, KeepsTypeAndLengthAndStillValidates) {
  GgufWriter w;
  std::vector<MetaValue> tokens, scores, nested;
  for (int k = 0; k < 1000; ++k) {
    tokens.push_back(MetaValue::str("token" + std::to_string(k)));
    scores.push_back(MetaValue::f(MetaType::F32, k * 0.5));
  }
  nested.push_back(MetaValue::array(MetaType::BOOL, {MetaValue::u(MetaType::BOOL, 1)}));
  w.add_metadata("tokens", MetaValue::array(MetaType::STRING, tokens));
  w.add_metadata("scores", MetaValue::array(MetaType::F32, scores));
  w.add_metadata("nested", MetaValue::array(MetaType::ARRAY, nested));
  w.add_metadata("after", MetaValue::str("still read"));
  w.add_tensor("t", DType::F32, {4}, TensorData::bytes(std::vector<std::byte>(16)));
  test::TempDir dir;
  ASSERT_TRUE(w.write(dir.file("a.gguf")).ok());
  auto bytes = test::read_file(dir.file("a.gguf"));

  auto full = parse_gguf(MemorySource(bytes, "a.gguf"));
  auto summary = parse_gguf(MemorySource(bytes, "a.gguf"), {false});
  ASSERT_TRUE(full.ok() && summary.ok());
  const Metadata& m = summary->files()[0].metadata;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_TRUE(m[0].second.is_summary());
  EXPECT_EQ(m[0].second.length, 1000u);
  EXPECT_EQ(m[0].second.elem_type, MetaType::STRING);
  EXPECT_EQ(m[1].second.length, 1000u);
  EXPECT_EQ(m[2].second.length, 1u);
  EXPECT_EQ(m[3].second, MetaValue::str("still read"));
  EXPECT_EQ(summary->tensors()[0].offset, full->tensors()[0].offset);
  EXPECT_FALSE(full->files()[0].metadata[0].second.is_summary());
  EXPECT_EQ(meta_to_string(m[0].second), "[1000 string items, not loaded]");

  // A summary cannot be written back: its items are gone.
  GgufWriter again;
  again.add_metadata("tokens", m[0].second);
  EXPECT_FALSE(again.write(dir.file("b.gguf")).ok());

  // Validation still runs over skipped items: a string length past the end fails.
  auto bad = bytes;
  std::string needle = "token999";
  auto it = std::search(bad.begin(), bad.end(), reinterpret_cast<const std::byte*>(needle.data()),
                        reinterpret_cast<const std::byte*>(needle.data() + needle.size()));
  ASSERT_NE(it, bad.end());
  test::poke_u64(bad, static_cast<size_t>(it - bad.begin()) - 8, uint64_t{1} << 40);
  auto r = parse_gguf(MemorySource(bad, "bad.gguf"), {false});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, static_cast<uint64_t>(it - bad.begin()) - 8);
  EXPECT_NE(r.error().message.find("string value length"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace wm
