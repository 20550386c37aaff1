// safetensors round trips: SafetensorsWriter -> parse_safetensors for every
// dtype of the spec, and hand-written headers that our writer would never
// produce. Expectations come from the format spec (8-byte little-endian
// header length, JSON header, data_offsets relative to the data section,
// element sizes in bits), not from the parser's output.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <string>
#include <vector>

#include "format/byte_source.h"
#include "format/safetensors_reader.h"
#include "format/safetensors_writer.h"
#include "io/file.h"
#include "test_support.h"

namespace wm {
namespace {

using test::read_file;
using test::TempDir;

// Element sizes in bits, as the safetensors spec lists them.
struct SpecDtype {
  const char* name;
  DType dtype;
  uint64_t bits;
};
const std::vector<SpecDtype>& spec_dtypes() {
  static const std::vector<SpecDtype> kAll = {
      {"BOOL", DType::BOOL, 8},       {"U8", DType::U8, 8},           {"I8", DType::I8, 8},
      {"I16", DType::I16, 16},        {"U16", DType::U16, 16},        {"F16", DType::F16, 16},
      {"BF16", DType::BF16, 16},      {"I32", DType::I32, 32},        {"U32", DType::U32, 32},
      {"F32", DType::F32, 32},        {"F64", DType::F64, 64},        {"I64", DType::I64, 64},
      {"U64", DType::U64, 64},        {"C64", DType::C64, 64},        {"F8_E4M3", DType::F8_E4M3, 8},
      {"F8_E5M2", DType::F8_E5M2, 8}, {"F8_E8M0", DType::F8_E8M0, 8}, {"F6_E2M3", DType::F6_E2M3, 6},
      {"F6_E3M2", DType::F6_E3M2, 6}, {"F4", DType::F4, 4},
  };
  return kAll;
}

uint64_t elements(const std::vector<uint64_t>& shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

// Distinct, position-dependent bytes so a misplaced tensor cannot match.
std::vector<std::byte> pattern(uint64_t n, uint32_t seed) {
  std::vector<std::byte> out(n);
  uint32_t x = seed * 2654435761u + 12345u;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 24);
  }
  return out;
}

uint64_t header_length(const std::vector<std::byte>& file) {
  uint64_t n = 0;
  std::memcpy(&n, file.data(), 8);  // little-endian host
  return n;
}

std::string header_text(const std::vector<std::byte>& file) {
  return std::string(reinterpret_cast<const char*>(file.data()) + 8, header_length(file));
}

// 8-byte little-endian length, header, data.
std::vector<std::byte> assemble(const std::string& header, const std::vector<std::byte>& data) {
  std::vector<std::byte> out(8 + header.size());
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

const TensorInfo* by_name(const TensorTable& t, std::string_view name) {
  for (const auto& x : t.tensors())
    if (x.name == name) return &x;
  return nullptr;
}

struct Written {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  std::vector<std::byte> bytes;
};

// The shapes each dtype is written with: scalars, matrices, zero-sized, and
// for sub-byte types only element counts that fill whole bytes.
std::vector<std::vector<uint64_t>> shapes_for(const SpecDtype& d) {
  if (d.bits == 4) return {{2}, {3, 2}, {0}, {5, 0, 3}, {1, 1, 8}};
  if (d.bits == 6) return {{4}, {3, 4}, {0}, {0, 7}, {2, 2, 2}};
  return {{}, {1}, {3, 4}, {0}, {2, 0, 5}, {2, 3, 1, 2}};
}

TEST(SafetensorsRoundTrip, EveryDtypeAndShapeSurvivesWriterAndParser) {
  TempDir dir;
  std::string path = dir.file("all.safetensors");
  SafetensorsWriter w;
  w.add_metadata("format", "pt");
  std::vector<Written> written;
  uint32_t seed = 1;
  for (const auto& d : spec_dtypes()) {
    for (const auto& shape : shapes_for(d)) {
      uint64_t bits = elements(shape) * d.bits;
      ASSERT_EQ(bits % 8, 0u) << d.name;
      Written t{fmt::format("{}.{}", d.name, written.size()), d.dtype, shape, pattern(bits / 8, seed++)};
      w.add_tensor(t.name, t.dtype, t.shape, TensorData::bytes(t.bytes));
      written.push_back(std::move(t));
    }
  }
  Status s = w.write(path);
  ASSERT_TRUE(s.ok()) << s.error().to_string();

  std::vector<std::byte> raw = read_file(path);
  ASSERT_GE(raw.size(), 8u);
  uint64_t n = header_length(raw);
  ASSERT_LE(8 + n, raw.size());

  auto file = File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  auto table = parse_safetensors(FileSource(*file));
  ASSERT_TRUE(table.ok()) << table.error().to_string();

  ASSERT_EQ(table->files().size(), 1u);
  const FileInfo& fi = table->files()[0];
  EXPECT_EQ(fi.path, path);
  EXPECT_EQ(fi.format, FileFormat::kSafetensors);
  EXPECT_EQ(fi.size, raw.size());
  EXPECT_EQ(fi.data_offset, 8 + n);
  EXPECT_EQ(fi.data_offset % 8, 0u) << "header must be padded so data starts at a multiple of 8";
  EXPECT_TRUE(fi.component.empty());
  ASSERT_EQ(fi.metadata.size(), 1u);
  EXPECT_EQ(fi.metadata[0].first, "format");
  EXPECT_EQ(fi.metadata[0].second, MetaValue::str("pt"));

  // The header, read independently: data_offsets are relative to the data
  // section and the parser's offsets are absolute.
  simdjson::dom::parser json;
  simdjson::dom::object root;
  ASSERT_FALSE(json.parse(header_text(raw)).get(root));

  ASSERT_EQ(table->tensors().size(), written.size());
  uint64_t total = 0;
  for (const auto& want : written) {
    SCOPED_TRACE(want.name);
    const TensorInfo* t = by_name(*table, want.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, want.dtype);
    EXPECT_EQ(std::string(dtype_name(t->dtype)), std::string(dtype_info(want.dtype).name));
    EXPECT_EQ(t->shape, want.shape);
    EXPECT_EQ(t->file, 0u);
    EXPECT_EQ(t->nbytes, want.bytes.size());
    EXPECT_TRUE(t->component.empty());
    EXPECT_EQ(t->qualified_name(), want.name);

    simdjson::dom::object entry;
    ASSERT_FALSE(root[want.name].get_object().get(entry));
    std::string_view dt;
    ASSERT_FALSE(entry["dtype"].get_string().get(dt));
    simdjson::dom::array offs;
    ASSERT_FALSE(entry["data_offsets"].get_array().get(offs));
    uint64_t begin = 0, end = 0;
    ASSERT_FALSE(offs.at(0).get_uint64().get(begin));
    ASSERT_FALSE(offs.at(1).get_uint64().get(end));
    EXPECT_EQ(end - begin, want.bytes.size());
    EXPECT_EQ(t->offset, fi.data_offset + begin) << "offsets must be absolute";
    std::vector<uint64_t> shape;
    for (simdjson::dom::element e : simdjson::dom::array(entry["shape"])) shape.push_back(uint64_t(e));
    EXPECT_EQ(shape, want.shape);

    ASSERT_LE(t->offset + t->nbytes, raw.size());
    std::vector<std::byte> got(raw.begin() + static_cast<std::ptrdiff_t>(t->offset),
                               raw.begin() + static_cast<std::ptrdiff_t>(t->offset + t->nbytes));
    EXPECT_EQ(got, want.bytes);
    total += want.bytes.size();
  }
  // Spec: the data section is exactly the tensors, nothing after them.
  EXPECT_EQ(raw.size(), 8 + n + total);
  EXPECT_EQ(table->total_tensor_bytes(), total);
}

TEST(SafetensorsRoundTrip, DtypeNamesInHeaderAreTheSpecSpellings) {
  TempDir dir;
  std::string path = dir.file("names.safetensors");
  SafetensorsWriter w;
  for (const auto& d : spec_dtypes()) {
    std::vector<uint64_t> shape = {d.bits == 6 ? 4u : 2u};
    w.add_tensor(d.name, d.dtype, shape, TensorData::bytes(pattern(shape[0] * d.bits / 8, 7)));
  }
  ASSERT_TRUE(w.write(path).ok());
  simdjson::dom::parser json;
  simdjson::dom::object root;
  ASSERT_FALSE(json.parse(header_text(read_file(path))).get(root));
  for (const auto& d : spec_dtypes()) {
    std::string_view dt;
    ASSERT_FALSE(root[d.name]["dtype"].get_string().get(dt)) << d.name;
    EXPECT_EQ(dt, d.name);
  }
}

TEST(SafetensorsRoundTrip, FileSourceAndMemorySourceAgree) {
  TempDir dir;
  std::string path = dir.file("m.safetensors");
  SafetensorsWriter w;
  w.add_metadata("a", "1");
  w.add_tensor("x", DType::F16, {3, 5}, TensorData::bytes(pattern(30, 3)));
  w.add_tensor("y", DType::I64, {}, TensorData::bytes(pattern(8, 4)));
  ASSERT_TRUE(w.write(path).ok());
  std::vector<std::byte> raw = read_file(path);

  auto file = File::open(path);
  ASSERT_TRUE(file.ok());
  auto from_file = parse_safetensors(FileSource(*file));
  auto from_mem = parse_safetensors(MemorySource(raw, path));
  ASSERT_TRUE(from_file.ok()) << from_file.error().to_string();
  ASSERT_TRUE(from_mem.ok()) << from_mem.error().to_string();
  ASSERT_EQ(from_file->tensors().size(), 2u);
  ASSERT_EQ(from_mem->tensors().size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(from_file->tensors()[k].name, from_mem->tensors()[k].name);
    EXPECT_EQ(from_file->tensors()[k].offset, from_mem->tensors()[k].offset);
    EXPECT_EQ(from_file->tensors()[k].nbytes, from_mem->tensors()[k].nbytes);
    EXPECT_EQ(from_file->tensors()[k].shape, from_mem->tensors()[k].shape);
  }
  EXPECT_EQ(from_file->files()[0].data_offset, from_mem->files()[0].data_offset);
  EXPECT_EQ(from_file->files()[0].size, from_mem->files()[0].size);
  EXPECT_EQ(from_file->files()[0].metadata, from_mem->files()[0].metadata);
}

TEST(SafetensorsRoundTrip, MetadataKeysAndValuesPreservedInOrder) {
  TempDir dir;
  std::string path = dir.file("meta.safetensors");
  std::vector<std::pair<std::string, std::string>> meta = {
      {"format", "pt"},
      {"quote\"and\\backslash", "line1\nline2\ttab"},
      {"unicode", "gr\xc3\xbc\xc3\x9f \xe2\x9c\x93"},
      {"empty", ""},
      {"json_like", "{\"nested\": [1, 2]}"},
      {"ctrl", std::string("a\x01" "b", 3)},
  };
  SafetensorsWriter w;
  for (const auto& [k, v] : meta) w.add_metadata(k, v);
  w.add_tensor("t", DType::U8, {1}, TensorData::bytes({std::byte{42}}));
  ASSERT_TRUE(w.write(path).ok());

  auto file = File::open(path);
  ASSERT_TRUE(file.ok());
  auto table = parse_safetensors(FileSource(*file));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  const Metadata& got = table->files()[0].metadata;
  ASSERT_EQ(got.size(), meta.size());
  for (size_t k = 0; k < meta.size(); ++k) {
    EXPECT_EQ(got[k].first, meta[k].first);
    EXPECT_EQ(got[k].second, MetaValue::str(meta[k].second)) << meta[k].first;
  }
  // __metadata__ is not a tensor.
  ASSERT_EQ(table->tensors().size(), 1u);
  EXPECT_EQ(table->tensors()[0].name, "t");
}

TEST(SafetensorsRoundTrip, NoMetadataMeansEmptyMetadataAndNoKeyInHeader) {
  TempDir dir;
  std::string path = dir.file("nometa.safetensors");
  SafetensorsWriter w;
  w.add_tensor("t", DType::F32, {2}, TensorData::bytes(pattern(8, 9)));
  ASSERT_TRUE(w.write(path).ok());
  std::vector<std::byte> raw = read_file(path);
  EXPECT_EQ(header_text(raw).find("__metadata__"), std::string::npos);
  auto table = parse_safetensors(MemorySource(raw, path));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_TRUE(table->files()[0].metadata.empty());
}

TEST(SafetensorsRoundTrip, HeaderPaddedWithSpacesToMultipleOf8ForEveryNameLength) {
  TempDir dir;
  for (size_t len = 1; len <= 17; ++len) {
    SCOPED_TRACE(len);
    std::string path = dir.file(fmt::format("pad{}.safetensors", len));
    SafetensorsWriter w;
    w.add_tensor(std::string(len, 'n'), DType::U8, {3}, TensorData::bytes(pattern(3, 5)));
    ASSERT_TRUE(w.write(path).ok());
    std::vector<std::byte> raw = read_file(path);
    uint64_t n = header_length(raw);
    EXPECT_EQ((8 + n) % 8, 0u);
    EXPECT_EQ(raw.size(), 8 + n + 3);
    std::string h = header_text(raw);
    ASSERT_FALSE(h.empty());
    EXPECT_EQ(h.front(), '{');
    size_t close = h.rfind('}');
    ASSERT_NE(close, std::string::npos);
    EXPECT_LT(h.size() - close - 1, 8u) << "at most 7 padding bytes";
    for (size_t k = close + 1; k < h.size(); ++k) EXPECT_EQ(h[k], ' ') << "padding must be spaces (0x20)";
    auto table = parse_safetensors(MemorySource(raw, path));
    ASSERT_TRUE(table.ok()) << table.error().to_string();
    EXPECT_EQ(table->tensors()[0].offset, 8 + n);
  }
}

TEST(SafetensorsRoundTrip, FileWithNoTensorsIsValid) {
  TempDir dir;
  std::string path = dir.file("empty_model.safetensors");
  SafetensorsWriter w;
  ASSERT_TRUE(w.write(path).ok());
  std::vector<std::byte> raw = read_file(path);
  uint64_t n = header_length(raw);
  EXPECT_EQ(raw.size(), 8 + n);
  EXPECT_EQ(n % 8, 0u);
  auto table = parse_safetensors(MemorySource(raw, path));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_TRUE(table->tensors().empty());
  EXPECT_EQ(table->files()[0].data_offset, raw.size());
  EXPECT_EQ(table->files()[0].size, raw.size());
}

TEST(SafetensorsRoundTrip, OnlyZeroSizedTensors) {
  TempDir dir;
  std::string path = dir.file("zeros.safetensors");
  SafetensorsWriter w;
  w.add_tensor("a", DType::F32, {0}, TensorData::bytes({}));
  w.add_tensor("b", DType::BF16, {4, 0}, TensorData::bytes({}));
  w.add_tensor("c", DType::F4, {0, 3}, TensorData::bytes({}));
  ASSERT_TRUE(w.write(path).ok());
  std::vector<std::byte> raw = read_file(path);
  auto table = parse_safetensors(MemorySource(raw, path));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tensors().size(), 3u);
  for (const auto& t : table->tensors()) {
    EXPECT_EQ(t.nbytes, 0u) << t.name;
    EXPECT_EQ(t.offset, raw.size()) << t.name;  // all at the (empty) data section's start
  }
  EXPECT_EQ(by_name(*table, "b")->shape, (std::vector<uint64_t>{4, 0}));
}

TEST(SafetensorsRoundTrip, LargeTensorStreamedFromGeneratorInChunks) {
  // Larger than the writer's 8 MiB chunk, from a generator (not held in
  // memory), so the chunked write path and fill offsets are exercised.
  TempDir dir;
  std::string path = dir.file("big.safetensors");
  const uint64_t big = (9u << 20) + 13;
  auto byte_at = [](uint64_t i) { return static_cast<std::byte>((i * 131 + (i >> 13)) & 0xff); };
  SafetensorsWriter w;
  w.add_tensor("head", DType::U8, {3}, TensorData::bytes(pattern(3, 1)));
  w.add_tensor("big", DType::U8, {big}, TensorData{[&](uint64_t offset, std::span<std::byte> out) {
                 for (size_t k = 0; k < out.size(); ++k) out[k] = byte_at(offset + k);
               }});
  w.add_tensor("tail", DType::I16, {2}, TensorData::bytes(pattern(4, 2)));
  ASSERT_TRUE(w.write(path).ok());

  std::vector<std::byte> raw = read_file(path);
  auto table = parse_safetensors(MemorySource(raw, path));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  const TensorInfo* t = by_name(*table, "big");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->nbytes, big);
  ASSERT_LE(t->offset + big, raw.size());
  uint64_t mismatches = 0;
  for (uint64_t i = 0; i < big; ++i) mismatches += raw[t->offset + i] != byte_at(i);
  EXPECT_EQ(mismatches, 0u);
  const TensorInfo* tail = by_name(*table, "tail");
  ASSERT_NE(tail, nullptr);
  EXPECT_EQ(tail->offset, t->offset + big);
  std::vector<std::byte> want_tail = pattern(4, 2);
  EXPECT_EQ(std::vector<std::byte>(raw.end() - 4, raw.end()), want_tail);
}

TEST(SafetensorsWriter, RejectsDtypeSafetensorsLacks) {
  TempDir dir;
  std::string path = dir.file("q.safetensors");
  SafetensorsWriter w;
  w.add_tensor("quant", DType::Q4_0, {32}, TensorData::bytes(pattern(18, 1)));
  Status s = w.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  EXPECT_EQ(s.error().tensor, "quant");
  EXPECT_NE(s.error().message.find("Q4_0"), std::string::npos) << s.error().message;
  EXPECT_FALSE(std::filesystem::exists(path)) << "nothing written on error";
}

TEST(SafetensorsWriter, RejectsShapeThatDoesNotFillWholeBytes) {
  TempDir dir;
  std::string path = dir.file("f4.safetensors");
  SafetensorsWriter w;
  w.add_tensor("odd", DType::F4, {3}, TensorData::bytes(pattern(2, 1)));
  Status s = w.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().tensor, "odd");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsWriter, RejectsDuplicateTensorNames) {
  // A header with the same key twice is not a valid safetensors file; the
  // writer must not produce one.
  TempDir dir;
  std::string path = dir.file("dup.safetensors");
  SafetensorsWriter w;
  w.add_tensor("w", DType::F32, {1}, TensorData::bytes(pattern(4, 1)));
  w.add_tensor("w", DType::F32, {1}, TensorData::bytes(pattern(4, 2)));
  Status s = w.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, path);
  EXPECT_EQ(s.error().tensor, "w");
  EXPECT_NE(s.error().message.find("duplicate"), std::string::npos) << s.error().message;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsWriter, RejectsTensorNamedMetadataKey) {
  TempDir dir;
  std::string path = dir.file("meta_name.safetensors");
  SafetensorsWriter w;
  w.add_tensor("__metadata__", DType::U8, {1}, TensorData::bytes(pattern(1, 1)));
  Status s = w.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().tensor, "__metadata__");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsWriter, RewriteReplacesFileAtomically) {
  TempDir dir;
  std::string path = dir.file("r.safetensors");
  SafetensorsWriter a;
  a.add_tensor("a", DType::F64, {4}, TensorData::bytes(pattern(32, 1)));
  ASSERT_TRUE(a.write(path).ok());
  SafetensorsWriter b;
  b.add_tensor("b", DType::U16, {1}, TensorData::bytes(pattern(2, 2)));
  ASSERT_TRUE(b.write(path).ok());
  auto table = parse_safetensors(MemorySource(read_file(path), path));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tensors().size(), 1u);
  EXPECT_EQ(table->tensors()[0].name, "b");
  // No temporary left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

// --- headers written by hand: the parser must not depend on our writer ---

TEST(SafetensorsHandWritten, WhitespaceArbitraryKeyOrderAndTensorsOutOfOffsetOrder) {
  // Data section: c (U8 scalar) at [12, 13), a (F32[2]) at [0, 8), b (I16[2])
  // at [8, 12); listed b, metadata, a, c with whitespace everywhere and a
  // header length that is not a multiple of 8.
  std::string header =
      "{ \n\t\"b\" : { \"shape\" : [ 2 ] , \"data_offsets\" : [ 8 , 12 ] , \"dtype\" : \"I16\" } ,\n"
      "  \"__metadata__\" : { \"format\" : \"pt\" , \"z\" : \"last\" },\r\n"
      "  \"a\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]},"
      "\"c\"  :  {\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[12,13]}   }     ";
  if ((8 + header.size()) % 8 == 0) header += ' ';  // make sure data is NOT 8-aligned
  std::vector<std::byte> data = pattern(13, 11);
  std::vector<std::byte> raw = assemble(header, data);
  auto table = parse_safetensors(MemorySource(raw, "hand.safetensors"));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  const uint64_t base = 8 + header.size();
  EXPECT_EQ(table->files()[0].data_offset, base);
  EXPECT_EQ(table->files()[0].size, raw.size());
  ASSERT_EQ(table->tensors().size(), 3u);

  const TensorInfo* a = by_name(*table, "a");
  const TensorInfo* b = by_name(*table, "b");
  const TensorInfo* c = by_name(*table, "c");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2}));
  EXPECT_EQ(a->offset, base + 0);
  EXPECT_EQ(a->nbytes, 8u);
  EXPECT_EQ(b->dtype, DType::I16);
  EXPECT_EQ(b->offset, base + 8);
  EXPECT_EQ(b->nbytes, 4u);
  EXPECT_EQ(c->dtype, DType::U8);
  EXPECT_TRUE(c->shape.empty());
  EXPECT_EQ(c->offset, base + 12);
  EXPECT_EQ(c->nbytes, 1u);
  EXPECT_EQ(raw[c->offset], data[12]);
  EXPECT_EQ(raw[b->offset], data[8]);

  const Metadata& m = table->files()[0].metadata;
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, "format");
  EXPECT_EQ(m[0].second, MetaValue::str("pt"));
  EXPECT_EQ(m[1].first, "z");
  EXPECT_EQ(m[1].second, MetaValue::str("last"));
}

TEST(SafetensorsHandWritten, ZeroSizedTensorsBetweenAndAtEnd) {
  std::string header =
      R"({"end":{"dtype":"F16","shape":[0,3],"data_offsets":[6,6]},)"
      R"("mid":{"dtype":"F32","shape":[0],"data_offsets":[2,2]},)"
      R"("x":{"dtype":"U16","shape":[1],"data_offsets":[0,2]},)"
      R"("y":{"dtype":"I8","shape":[4],"data_offsets":[2,6]}})";
  std::vector<std::byte> raw = assemble(header, pattern(6, 1));
  auto table = parse_safetensors(MemorySource(raw, "z.safetensors"));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  const uint64_t base = 8 + header.size();
  EXPECT_EQ(by_name(*table, "mid")->offset, base + 2);
  EXPECT_EQ(by_name(*table, "mid")->nbytes, 0u);
  EXPECT_EQ(by_name(*table, "end")->offset, base + 6);
  EXPECT_EQ(by_name(*table, "y")->offset, base + 2);
}

TEST(SafetensorsHandWritten, UnknownFieldsInEntriesAndEscapedNames) {
  // Keys the spec does not define are tolerated; names may contain escapes.
  std::string header =
      R"({"a\"b\\c\u00e9":{"dtype":"BF16","shape":[1],"data_offsets":[0,2],"extra":{"k":[1,2]}}})";
  std::vector<std::byte> raw = assemble(header, pattern(2, 1));
  auto table = parse_safetensors(MemorySource(raw, "e.safetensors"));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  ASSERT_EQ(table->tensors().size(), 1u);
  EXPECT_EQ(table->tensors()[0].name, "a\"b\\c\xc3\xa9");
  EXPECT_EQ(table->tensors()[0].dtype, DType::BF16);
}

TEST(SafetensorsHandWritten, ThirtyTwoDimensionsAccepted) {
  std::string shape = "[";
  for (int k = 0; k < 32; ++k) shape += (k ? ",1" : "1");
  shape += "]";
  std::string header = R"({"t":{"dtype":"U8","shape":)" + shape + R"(,"data_offsets":[0,1]}})";
  auto table = parse_safetensors(MemorySource(assemble(header, pattern(1, 1)), "d.safetensors"));
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_EQ(table->tensors()[0].shape.size(), 32u);
}

TEST(SafetensorsHandWritten, HeaderOnlyParserUsesDataLength) {
  std::string header = R"({"t":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
  auto ok = parse_safetensors_header(header, 16, "h.safetensors");
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->files()[0].data_offset, 8 + header.size());
  EXPECT_EQ(ok->files()[0].size, 8 + header.size() + 16);
  EXPECT_EQ(ok->tensors()[0].offset, 8 + header.size());
  EXPECT_EQ(ok->tensors()[0].nbytes, 16u);
  EXPECT_FALSE(parse_safetensors_header(header, 15, "h.safetensors").ok());
  EXPECT_FALSE(parse_safetensors_header(header, 17, "h.safetensors").ok());
}

}  // namespace
}  // namespace wm
