// safetensors bad input: every violation of the spec is an Error naming the
// file, the tensor (where one is involved) and the byte offset, never a
// crash, a hang or a huge allocation.
#include <gtest/gtest.h>

#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "format/byte_source.h"
#include "format/model_path.h"
#include "format/safetensors_reader.h"
#include "format/safetensors_writer.h"
#include "io/file.h"
#include "test_support.h"

namespace wm {
namespace {

using test::poke_u64;
using test::read_file;
using test::TempDir;
using test::write_file;

const std::string kName = "bad.safetensors";

std::vector<std::byte> assemble(const std::string& header, uint64_t data_bytes) {
  std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0x5a});
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

Result<TensorTable> parse(const std::vector<std::byte>& raw) { return parse_safetensors(MemorySource(raw, kName)); }

// Offset of the first "key" in the header, as a file offset.
uint64_t key_at(const std::string& header, const std::string& key) {
  size_t p = header.find("\"" + key + "\"");
  EXPECT_NE(p, std::string::npos) << key;
  return 8 + p;
}

// Asserts `r` failed with exactly these file, tensor and offset fields and a
// message containing `phrase`.
void expect_error(const Result<TensorTable>& r, const std::string& file, const std::string& tensor,
                  std::optional<uint64_t> offset, const std::string& phrase) {
  ASSERT_FALSE(r.ok()) << "expected an error containing '" << phrase << "'";
  const Error& e = r.error();
  EXPECT_EQ(e.file, file) << e.to_string();
  EXPECT_EQ(e.tensor, tensor) << e.to_string();
  EXPECT_EQ(e.offset, offset) << e.to_string();
  EXPECT_NE(e.message.find(phrase), std::string::npos) << "message: " << e.message << "\nwanted: " << phrase;
  // to_string carries all three for the user.
  std::string s = e.to_string();
  EXPECT_NE(s.find(file), std::string::npos) << s;
  if (!tensor.empty()) {
    EXPECT_NE(s.find("'" + tensor + "'"), std::string::npos) << s;
  }
  if (offset) {
    EXPECT_NE(s.find(fmt::format("byte {}", *offset)), std::string::npos) << s;
  }
}

// One tensor "t" with the given entry body, the data section `data` bytes.
struct OneTensor {
  std::string header;
  std::vector<std::byte> raw;
};
OneTensor one(const std::string& entry, uint64_t data) {
  OneTensor o;
  o.header = "{\"t\":" + entry + "}";
  o.raw = assemble(o.header, data);
  return o;
}

// --- the 8-byte length prefix ---

TEST(SafetensorsBadInput, EmptyFileOnDisk) {
  TempDir dir;
  std::string path = dir.file("empty.safetensors");
  write_file(path, {});
  auto file = File::open(path);
  ASSERT_TRUE(file.ok());
  expect_error(parse_safetensors(FileSource(*file)), path, "", 0, "empty");
  // The path opener says the same, naming the file.
  auto opened = open_model_path(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().file, path);
  EXPECT_EQ(opened.error().offset, std::optional<uint64_t>(0));
  EXPECT_NE(opened.error().message.find("empty"), std::string::npos);
}

TEST(SafetensorsBadInput, ShorterThanTheLengthPrefix) {
  for (size_t n = 1; n < 8; ++n) {
    SCOPED_TRACE(n);
    std::vector<std::byte> raw(n, std::byte{1});
    expect_error(parse(raw), kName, "", 0, "too short");
  }
}

TEST(SafetensorsBadInput, ShortFileOnDiskIsAnErrorFromThePathOpener) {
  TempDir dir;
  std::string path = dir.file("short.safetensors");
  write_file(path, bytes_of("{}"));
  auto r = open_model_path(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, path);
  EXPECT_EQ(r.error().offset, std::optional<uint64_t>(0));
}

TEST(SafetensorsBadInput, HeaderLengthZero) {
  std::vector<std::byte> raw(16, std::byte{' '});
  poke_u64(raw, 0, 0);
  expect_error(parse(raw), kName, "", 0, "header length is 0");
}

TEST(SafetensorsBadInput, HeaderLengthOverTheCap) {
  // Over 100 MB: refused before any allocation, whatever the file size.
  for (uint64_t n : {kSafetensorsMaxHeader + 1, uint64_t{1} << 40, std::numeric_limits<uint64_t>::max()}) {
    SCOPED_TRACE(n);
    std::vector<std::byte> raw = assemble("{}", 0);
    poke_u64(raw, 0, n);
    expect_error(parse(raw), kName, "", 0, "exceeds");
    EXPECT_NE(parse(raw).error().message.find(std::to_string(n)), std::string::npos);
  }
}

TEST(SafetensorsBadInput, HeaderLengthAtTheCapButBeyondTheFile) {
  std::vector<std::byte> raw = assemble("{}", 0);
  poke_u64(raw, 0, kSafetensorsMaxHeader);
  expect_error(parse(raw), kName, "", 0, "runs past the end of the file");
}

TEST(SafetensorsBadInput, HeaderLengthBeyondTheFile) {
  std::string header = R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  std::vector<std::byte> raw = assemble(header, 1);
  poke_u64(raw, 0, header.size() + 2);  // one byte more than is there
  expect_error(parse(raw), kName, "", 0, "runs past the end of the file");
  // Off by one the other way is a parse error of a different kind, not a crash.
  poke_u64(raw, 0, header.size() + 1);
  EXPECT_FALSE(parse(raw).ok());
}

TEST(SafetensorsBadInput, EveryTruncationOfAValidFileIsAnError) {
  TempDir dir;
  std::string path = dir.file("ok.safetensors");
  SafetensorsWriter w;
  w.add_metadata("k", "v");
  w.add_tensor("a", DType::F32, {2, 3}, TensorData::bytes(std::vector<std::byte>(24, std::byte{1})));
  w.add_tensor("b", DType::F4, {4}, TensorData::bytes(std::vector<std::byte>(2, std::byte{2})));
  ASSERT_TRUE(w.write(path).ok());
  std::vector<std::byte> raw = read_file(path);
  ASSERT_TRUE(parse(raw).ok());
  for (size_t n = 0; n < raw.size(); ++n) {
    std::vector<std::byte> cut(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = parse(cut);
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes";
    if (!r.ok()) {
      EXPECT_EQ(r.error().file, kName);
    }
  }
}

// --- the JSON header ---

TEST(SafetensorsBadInput, HeaderNotJson) {
  std::string header = "{\"t\": {\"dtype\": \"F32\",, }";
  expect_error(parse(assemble(header, 0)), kName, "", 8, "not valid JSON");
}

TEST(SafetensorsBadInput, HeaderInvalidUtf8) {
  std::string header = "{\"t\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  expect_error(parse(assemble(header, 1)), kName, "", 8, "not valid JSON");
}

TEST(SafetensorsBadInput, HeaderTrailingGarbageAfterObject) {
  expect_error(parse(assemble("{} x", 0)), kName, "", 8, "not valid JSON");
}

TEST(SafetensorsBadInput, DeeplyNestedMetadataDoesNotCrash) {
  std::string header = "{\"__metadata__\":{\"k\":" + std::string(5000, '[') + std::string(5000, ']') + "}}";
  auto r = parse(assemble(header, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, kName);
  EXPECT_EQ(r.error().offset, std::optional<uint64_t>(8));
}

TEST(SafetensorsBadInput, HeaderNotStartingWithBrace) {
  for (std::string header : {std::string("[1, 2]"), std::string(" {}"), std::string("\"x\""), std::string("\n{}")}) {
    SCOPED_TRACE(header);
    expect_error(parse(assemble(header, 0)), kName, "", 8, "does not start with '{'");
  }
}

TEST(SafetensorsBadInput, HeaderNotAnObject) {
  // Reached through the header-only entry point (the file parser already
  // refuses anything not starting with '{').
  for (std::string header : {std::string("[1, 2]"), std::string("42"), std::string("null")}) {
    SCOPED_TRACE(header);
    expect_error(parse_safetensors_header(header, 0, kName), kName, "", 8, "not a JSON object");
  }
}

// --- tensor entries ---

TEST(SafetensorsBadInput, EntryNotAnObject) {
  auto o = one("[1, 2]", 0);
  expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "not an object");
}

TEST(SafetensorsBadInput, UnknownDtypeNamesTheTensor) {
  // GGUF-only names, wrong case and made-up names are all unknown to safetensors.
  for (std::string dtype : {"F17", "f32", "Q4_0", "MXFP4", "", "F8_E4M3FN"}) {
    SCOPED_TRACE(dtype);
    std::string header = R"({"ok":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                         R"("weird.weight":{"dtype":")" + dtype + R"(","shape":[1],"data_offsets":[1,2]}})";
    expect_error(parse(assemble(header, 2)), kName, "weird.weight", key_at(header, "weird.weight"),
                 "unknown dtype \"" + dtype + "\"");
  }
}

TEST(SafetensorsBadInput, MissingOrMistypedDtype) {
  for (std::string entry : {R"({"shape":[1],"data_offsets":[0,1]})", R"({"dtype":5,"shape":[1],"data_offsets":[0,1]})",
                            R"({"dtype":null,"shape":[1],"data_offsets":[0,1]})"}) {
    SCOPED_TRACE(entry);
    auto o = one(entry, 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "\"dtype\"");
  }
}

TEST(SafetensorsBadInput, MissingOrMistypedShape) {
  for (std::string entry : {R"({"dtype":"U8","data_offsets":[0,1]})", R"({"dtype":"U8","shape":1,"data_offsets":[0,1]})",
                            R"({"dtype":"U8","shape":{"0":1},"data_offsets":[0,1]})"}) {
    SCOPED_TRACE(entry);
    auto o = one(entry, 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "\"shape\"");
  }
}

TEST(SafetensorsBadInput, BadShapeDimensions) {
  for (std::string dim : {"-1", "1.0", "1e2", "\"2\"", "null", "[1]"}) {
    SCOPED_TRACE(dim);
    auto o = one(R"({"dtype":"U8","shape":[)" + dim + R"(],"data_offsets":[0,1]})", 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "shape dimension is not a non-negative integer");
  }
}

TEST(SafetensorsBadInput, MissingDataOffsets) {
  auto o = one(R"({"dtype":"U8","shape":[1]})", 1);
  expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "data_offsets");
}

TEST(SafetensorsBadInput, DataOffsetsNotTwoNumbers) {
  for (std::string offs : {"[]", "[0]", "[0,1,1]", "\"0,1\"", "{\"0\":0,\"1\":1}", "null"}) {
    SCOPED_TRACE(offs);
    auto o = one(R"({"dtype":"U8","shape":[1],"data_offsets":)" + offs + "}", 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "not [begin, end]");
  }
}

TEST(SafetensorsBadInput, DataOffsetsNegativeFloatOrNotNumbers) {
  struct Case {
    std::string offs;
    std::string phrase;
  };
  for (const Case& c : {Case{"[-1,0]", "data_offsets[0]"}, Case{"[0,-1]", "data_offsets[1]"},
                        Case{"[0.0,1]", "data_offsets[0]"}, Case{"[0,1.0]", "data_offsets[1]"},
                        Case{"[0,1e0]", "data_offsets[1]"}, Case{"[0,1e30]", "data_offsets[1]"},
                        Case{"[\"0\",1]", "data_offsets[0]"}, Case{"[0,true]", "data_offsets[1]"},
                        Case{"[-9223372036854775808,1]", "data_offsets[0]"}}) {
    SCOPED_TRACE(c.offs);
    auto o = one(R"({"dtype":"U8","shape":[1],"data_offsets":)" + c.offs + "}", 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), c.phrase + " is not a non-negative integer");
  }
}

TEST(SafetensorsBadInput, DataOffsetsHuge) {
  // Representable but far beyond the data section: caught before any size
  // arithmetic can wrap.
  for (std::string offs : {"[0,18446744073709551615]", "[18446744073709551615,18446744073709551615]",
                           "[18446744073709551614,18446744073709551615]", "[9223372036854775808,9223372036854775809]"}) {
    SCOPED_TRACE(offs);
    auto o = one(R"({"dtype":"U8","shape":[1],"data_offsets":)" + offs + "}", 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "past the data section");
  }
  // Beyond 64 bits: not representable at all; an error either way.
  auto o = one(R"({"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616]})", 1);
  auto r = parse(o.raw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, kName);
}

TEST(SafetensorsBadInput, EndBeforeBegin) {
  auto o = one(R"({"dtype":"U8","shape":[0],"data_offsets":[4,0]})", 4);
  expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "end before begin");
}

TEST(SafetensorsBadInput, ShapeTimesDtypeSizeDiffersFromByteLength) {
  struct Case {
    std::string entry;
    uint64_t data;
    std::string phrase;
  };
  for (const Case& c : {
           Case{R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4, "8 bytes"},
           Case{R"({"dtype":"F16","shape":[2,3],"data_offsets":[0,24]})", 24, "12 bytes"},
           Case{R"({"dtype":"C64","shape":[],"data_offsets":[0,4]})", 4, "8 bytes"},
           Case{R"({"dtype":"F4","shape":[4],"data_offsets":[0,4]})", 4, "2 bytes"},
           Case{R"({"dtype":"F6_E2M3","shape":[8],"data_offsets":[0,8]})", 8, "6 bytes"},
           Case{R"({"dtype":"BOOL","shape":[0],"data_offsets":[0,1]})", 1, "0 bytes"},
       }) {
    SCOPED_TRACE(c.entry);
    auto o = one(c.entry, c.data);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "shape x dtype size is " + c.phrase);
  }
}

TEST(SafetensorsBadInput, OffsetsBeyondTheDataSection) {
  auto o = one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", 8);
  expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "past the data section (8 bytes)");
  // A zero-sized tensor placed past the end is just as wrong.
  std::string header = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                       R"("z":{"dtype":"U8","shape":[0],"data_offsets":[5,5]}})";
  expect_error(parse(assemble(header, 4)), kName, "z", key_at(header, "z"), "past the data section");
}

TEST(SafetensorsBadInput, OverlappingTensors) {
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  const uint64_t base = 8 + header.size();
  expect_error(parse(assemble(header, 12)), kName, "b", base + 4, "overlaps 'a'");
}

TEST(SafetensorsBadInput, SameRangeTwice) {
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  const uint64_t base = 8 + header.size();
  auto r = parse(assemble(header, 4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, std::optional<uint64_t>(base));
  EXPECT_NE(r.error().message.find("overlaps"), std::string::npos) << r.error().message;
  EXPECT_TRUE(r.error().tensor == "a" || r.error().tensor == "b") << r.error().tensor;
}

TEST(SafetensorsBadInput, ZeroSizedTensorInsideAnother) {
  // The spec's layout rule (each tensor starts where the previous ended)
  // also holds for empty tensors.
  std::string header = R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                       R"("e":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}})";
  const uint64_t base = 8 + header.size();
  expect_error(parse(assemble(header, 8)), kName, "e", base + 4, "overlaps 'a'");
}

TEST(SafetensorsBadInput, HoleBetweenTensors) {
  std::string header = R"({"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},)"
                       R"("a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  const uint64_t base = 8 + header.size();
  expect_error(parse(assemble(header, 12)), kName, "b", base + 4, "hole of 4 bytes between 'a'");
}

TEST(SafetensorsBadInput, HoleAtTheStartOfTheData) {
  auto o = one(R"({"dtype":"U8","shape":[4],"data_offsets":[3,7]})", 7);
  const uint64_t base = 8 + o.header.size();
  expect_error(parse(o.raw), kName, "t", base, "hole of 3 bytes");
}

TEST(SafetensorsBadInput, BytesAfterTheLastTensor) {
  auto o = one(R"({"dtype":"U8","shape":[4],"data_offsets":[0,4]})", 9);
  const uint64_t base = 8 + o.header.size();
  expect_error(parse(o.raw), kName, "", base + 4, "5 bytes after the last tensor");
  // No tensors at all but data bytes.
  std::vector<std::byte> raw = assemble("{}", 3);
  expect_error(parse(raw), kName, "", 8 + 2, "3 bytes after the last tensor");
}

TEST(SafetensorsBadInput, DuplicateTensorNames) {
  // Valid JSON, but a tensor name may appear only once; the error points at
  // the second occurrence.
  std::string header = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  size_t second = header.find("\"w\"", header.find("\"w\"") + 1);
  expect_error(parse(assemble(header, 2)), kName, "w", 8 + second, "duplicate tensor name");
}

TEST(SafetensorsBadInput, DuplicateMetadataKey) {
  std::string header = R"({"__metadata__":{"a":"1"},"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("__metadata__":{"b":"2"}})";
  size_t second = header.rfind("\"__metadata__\"");
  expect_error(parse(assemble(header, 1)), kName, "", 8 + second, "duplicate key \"__metadata__\"");
}

TEST(SafetensorsBadInput, MetadataValueNotAString) {
  for (std::string value : {"1", "true", "null", "[\"a\"]", "{\"x\":\"y\"}", "1.5"}) {
    SCOPED_TRACE(value);
    std::string header = R"({"__metadata__":{"fine":"yes","bad_key":)" + value + "}}";
    expect_error(parse(assemble(header, 0)), kName, "", key_at(header, "bad_key"),
                 "value for 'bad_key' is not a string");
  }
}

TEST(SafetensorsBadInput, MetadataNotAnObject) {
  std::string header = R"({"__metadata__":["a","b"]})";
  expect_error(parse(assemble(header, 0)), kName, "", key_at(header, "__metadata__"), "__metadata__ is not an object");
}

TEST(SafetensorsBadInput, TooManyDimensions) {
  std::string shape;
  for (int k = 0; k < 33; ++k) shape += (k ? ",1" : "1");
  auto o = one(R"({"dtype":"U8","shape":[)" + shape + R"(],"data_offsets":[0,1]})", 1);
  expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "33 dimensions");
  // Far too many: refused without building the shape.
  std::string many(2 * 100000 - 1, ',');
  for (size_t k = 0; k < many.size(); k += 2) many[k] = '1';
  auto big = one(R"({"dtype":"U8","shape":[)" + many + R"(],"data_offsets":[0,1]})", 1);
  expect_error(parse(big.raw), kName, "t", key_at(big.header, "t"), "dimensions");
}

TEST(SafetensorsBadInput, ElementCountOverflow) {
  for (std::string shape : {"4294967296,4294967296,4", "18446744073709551615,2", "65536,65536,65536,65536"}) {
    SCOPED_TRACE(shape);
    auto o = one(R"({"dtype":"U8","shape":[)" + shape + R"(],"data_offsets":[0,1]})", 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "shape is invalid for U8");
  }
  // 2^61 F64 elements: the count fits but the byte size does not.
  auto o = one(R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]})", 8);
  expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "shape is invalid for F64");
}

TEST(SafetensorsBadInput, SubByteTypesWithPartialBytes) {
  struct Case {
    std::string dtype;
    std::string shape;
  };
  for (const Case& c : {Case{"F4", "[3]"}, Case{"F4", "[1]"}, Case{"F4", "[]"}, Case{"F4", "[3,5]"},
                        Case{"F6_E2M3", "[3]"}, Case{"F6_E3M2", "[2,3]"}, Case{"F6_E2M3", "[]"}}) {
    SCOPED_TRACE(c.dtype + c.shape);
    auto o = one(R"({"dtype":")" + c.dtype + R"(","shape":)" + c.shape + R"(,"data_offsets":[0,1]})", 1);
    expect_error(parse(o.raw), kName, "t", key_at(o.header, "t"), "do not fill whole bytes");
  }
}

TEST(SafetensorsBadInput, ErrorsNameTheFileOnDisk) {
  TempDir dir;
  std::string path = dir.file("broken.safetensors");
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})";
  write_file(path, assemble(header, 4));
  auto file = File::open(path);
  ASSERT_TRUE(file.ok());
  expect_error(parse_safetensors(FileSource(*file)), path, "x", key_at(header, "x"), "shape x dtype size");
}

TEST(SafetensorsBadInput, CorruptedHeaderBytesNeverCrash) {
  // Every single-byte change of a valid header either parses to something
  // self-consistent or fails with an Error naming the file.
  std::string header = R"({"__metadata__":{"k":"v"},"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})";
  std::vector<std::byte> good = assemble(header, 11);
  ASSERT_TRUE(parse(good).ok());
  for (size_t at = 0; at < 8 + header.size(); ++at) {
    for (unsigned char v : {0x00, 0x22, 0x2c, 0x31, 0x39, 0x5b, 0x7d, 0xff}) {
      std::vector<std::byte> raw = good;
      raw[at] = static_cast<std::byte>(v);
      auto r = parse(raw);
      if (!r.ok()) {
        EXPECT_EQ(r.error().file, kName);
        continue;
      }
      for (const auto& t : r->tensors()) {
        EXPECT_GE(t.offset, r->files()[0].data_offset);
        EXPECT_LE(t.offset + t.nbytes, raw.size());
      }
    }
  }
}

}  // namespace
}  // namespace wm
