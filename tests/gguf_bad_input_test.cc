// Malformed GGUF headers: each must give an Error naming the file, the tensor
// (when one is involved) and the byte offset of the bad field, with a message
// saying what was wrong; never a crash, a hang or a huge allocation. Files are
// assembled by hand here, so every expected offset comes from the GGUF layout.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "format/byte_source.h"
#include "format/gguf_reader.h"
#include "format/gguf_writer.h"
#include "io/file.h"
#include "test_support.h"

namespace wm {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8;

// Appends little-endian GGUF fields; each call returns the offset it wrote at.
class Builder {
 public:
  uint64_t pos() const { return bytes.size(); }
  uint64_t raw(const void* p, size_t n) {
    uint64_t at = pos();
    const auto* b = static_cast<const std::byte*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return at;
  }
  uint64_t u8(uint8_t v) { return raw(&v, 1); }
  uint64_t u32(uint32_t v) { return raw(&v, 4); }
  uint64_t u64(uint64_t v) { return raw(&v, 8); }
  uint64_t i64(int64_t v) { return raw(&v, 8); }
  uint64_t str(std::string_view s) {
    uint64_t at = u64(s.size());
    raw(s.data(), s.size());
    return at;
  }
  // magic, version, tensor count, key/value count: always 24 bytes.
  void header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    raw("GGUF", 4);
    u32(version);
    u64(n_tensors);
    u64(n_kv);
  }
  // A key and its value type; returns where the key/value starts.
  uint64_t key(std::string_view k, MetaType t) {
    uint64_t at = str(k);
    u32(static_cast<uint32_t>(t));
    return at;
  }
  uint64_t kv_u32(std::string_view k, uint32_t v) {
    uint64_t at = key(k, MetaType::U32);
    u32(v);
    return at;
  }
  uint64_t kv_str(std::string_view k, std::string_view v) {
    uint64_t at = key(k, MetaType::STRING);
    str(v);
    return at;
  }
  struct InfoAt {
    uint64_t start, n_dims, first_dim, type, offset;
  };
  // `ne` innermost first, as stored.
  InfoAt tensor(std::string_view name, const std::vector<int64_t>& ne, uint32_t type, uint64_t offset) {
    InfoAt at{};
    at.start = str(name);
    at.n_dims = u32(static_cast<uint32_t>(ne.size()));
    at.first_dim = pos();
    for (int64_t d : ne) i64(d);
    at.type = u32(type);
    at.offset = u64(offset);
    return at;
  }
  uint64_t pad_to(uint64_t a) {
    while (pos() % a) u8(0);
    return pos();
  }
  void zeros(size_t n) { bytes.resize(bytes.size() + n); }

  std::vector<std::byte> bytes;
};

const char* const kName = "bad.gguf";

Result<TensorTable> parse(const std::vector<std::byte>& bytes) {
  MemorySource src(bytes, kName);
  return parse_gguf(src);
}

void expect_error_impl(const Result<TensorTable>& r, const std::string& tensor, uint64_t offset,
                       const std::string& phrase, const std::string& file = kName) {
  ASSERT_FALSE(r.ok()) << "parsed, expected an error saying '" << phrase << "'";
  const Error& e = r.error();
  EXPECT_EQ(e.file, file) << e.to_string();
  EXPECT_EQ(e.tensor, tensor) << e.to_string();
  EXPECT_EQ(e.offset, std::optional<uint64_t>(offset)) << e.to_string();
  EXPECT_NE(e.message.find(phrase), std::string::npos) << e.to_string();
}
#define EXPECT_PARSE_ERROR(bytes, tensor, offset, phrase)    \
  do {                                                       \
    SCOPED_TRACE("expected error: " + std::string(phrase));  \
    expect_error_impl(parse(bytes), tensor, offset, phrase); \
  } while (0)

// ------------------------------------------------------------ positive control

TEST(GgufBadInput, HandBuiltFileParses) {
  Builder b;
  b.header(3, 2, 2);
  b.kv_u32("general.alignment", 16);
  b.kv_str("general.name", "x");
  b.tensor("a", {4}, kF32, 0);        // 16 bytes
  b.tensor("b", {32, 2}, kQ8_0, 16);  // 2 blocks of 34 bytes
  uint64_t data = b.pad_to(16);
  b.zeros(16 + 68);
  auto r = parse(b.bytes);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->files()[0].alignment, 16u);
  EXPECT_EQ(r->files()[0].data_offset, data);
  ASSERT_EQ(r->tensors().size(), 2u);
  EXPECT_EQ(r->tensors()[0].offset, data);
  EXPECT_EQ(r->tensors()[1].offset, data + 16);
  EXPECT_EQ(r->tensors()[1].shape, (std::vector<uint64_t>{2, 32}));
  EXPECT_EQ(r->tensors()[1].nbytes, 68u);
}

// ------------------------------------------------------------ file start

TEST(GgufBadInput, EmptyFile) { EXPECT_PARSE_ERROR(std::vector<std::byte>{}, "", 0, "empty"); }

TEST(GgufBadInput, ShorterThanTheMagic) {
  for (size_t n = 1; n < 4; ++n) {
    std::vector<std::byte> bytes(n, std::byte{'G'});
    EXPECT_PARSE_ERROR(bytes, "", 0, "truncated");
  }
}

TEST(GgufBadInput, WrongMagic) {
  for (const char* magic : {"GGML", "FUGG", "ggu", "\0\0\0\0"}) {
    Builder b;
    b.raw(magic, 4);
    b.u32(3);
    b.u64(0);
    b.u64(0);
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", 0, "magic");
  }
}

TEST(GgufBadInput, VersionOne) {
  Builder b;
  b.header(1, 0, 0);
  b.pad_to(32);
  EXPECT_PARSE_ERROR(b.bytes, "", 4, "v1");
}

TEST(GgufBadInput, BigEndianFile) {
  for (uint32_t v : {2u, 3u}) {
    Builder b;
    b.raw("GGUF", 4);
    const unsigned char be[4] = {0, 0, 0, static_cast<unsigned char>(v)};
    b.raw(be, 4);
    b.zeros(16);  // counts, in either byte order zero
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", 4, "big-endian");
  }
}

TEST(GgufBadInput, UnsupportedVersion) {
  for (uint32_t v : {0u, 4u, 0x100u, 0xffffffffu}) {
    Builder b;
    b.header(v, 0, 0);
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", 4, "version");
  }
}

// ------------------------------------------------------------ truncation

// Every proper prefix of a valid file must fail, at an offset inside the
// original file, saying the data ran out.
void check_every_prefix_fails(const std::vector<std::byte>& full, uint64_t end_of_infos) {
  ASSERT_TRUE(parse(full).ok());
  for (size_t len = 0; len < full.size(); ++len) {
    std::vector<std::byte> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
    auto r = parse(prefix);
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes parsed";
    const Error& e = r.error();
    ASSERT_EQ(e.file, kName);
    ASSERT_TRUE(e.offset.has_value()) << len << ": " << e.to_string();
    ASSERT_LE(*e.offset, full.size()) << len << ": " << e.to_string();
    bool says_short = e.message.find("truncated") != std::string::npos ||
                      e.message.find("past the end") != std::string::npos ||
                      e.message.find("cannot fit") != std::string::npos || e.message.find("empty") != std::string::npos;
    ASSERT_TRUE(says_short) << len << ": " << e.to_string();
    if (len < end_of_infos) {
      ASSERT_LE(*e.offset, len) << len << ": " << e.to_string();
    } else {  // the header is whole: the last tensor's data is cut
      ASSERT_FALSE(e.tensor.empty()) << len << ": " << e.to_string();
    }
  }
}

TEST(GgufBadInput, EveryTruncationOfAHandBuiltFileFails) {
  Builder b;
  b.header(3, 2, 4);
  b.kv_u32("u", 7);
  b.kv_str("s", "text");
  b.key("arr", MetaType::ARRAY);
  b.u32(static_cast<uint32_t>(MetaType::STRING));
  b.u64(2);
  b.str("a");
  b.str("bc");
  b.key("nested", MetaType::ARRAY);
  b.u32(static_cast<uint32_t>(MetaType::ARRAY));
  b.u64(1);
  b.u32(static_cast<uint32_t>(MetaType::U16));
  b.u64(2);
  b.raw("\1\0\2\0", 4);
  b.tensor("t0", {8}, kF16, 0);
  b.tensor("t1", {32}, kQ4_0, 32);
  uint64_t end_of_infos = b.pos();
  b.pad_to(32);
  b.zeros(32 + 18);
  check_every_prefix_fails(b.bytes, end_of_infos);
}

TEST(GgufBadInput, EveryTruncationOfAWrittenFileFails) {
  TempDir dir;
  GgufWriter w(3, 64);
  w.add_metadata("general.name", MetaValue::str("truncate me"));
  w.add_metadata("f", MetaValue::f(MetaType::F64, 2.5));
  w.add_metadata("toks", MetaValue::array(MetaType::STRING, {MetaValue::str("x"), MetaValue::str("yz")}));
  w.add_metadata("b", MetaValue::u(MetaType::BOOL, 1));
  w.add_tensor("w0", DType::Q8_0, {2, 32}, TensorData::bytes(std::vector<std::byte>(68, std::byte{1})));
  w.add_tensor("w1", DType::F32, {3}, TensorData::bytes(std::vector<std::byte>(12, std::byte{2})));
  ASSERT_TRUE(w.write(dir.file("t.gguf")).ok());
  auto bytes = read_file(dir.file("t.gguf"));
  auto r = parse(bytes);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  // The last tensor ends the file; the infos end before the padding.
  ASSERT_EQ(r->tensors().back().offset + r->tensors().back().nbytes, bytes.size());
  // Header 24, then key/values (key length 8 + key + type 4 + value) and
  // tensor infos (name length 8 + name + n_dims 4 + 8 per dim + type 4 + offset 8).
  const uint64_t end_of_infos = 24 + (8 + 17 + 4 + 4)                       // general.alignment: u32
                                + (8 + 12 + 4 + 8 + 11)                     // general.name: string
                                + (8 + 1 + 4 + 8)                           // f: f64
                                + (8 + 4 + 4 + 4 + 8 + (8 + 1) + (8 + 2))  // toks: [string]
                                + (8 + 1 + 4 + 1)                           // b: bool
                                + (8 + 2 + 4 + 16 + 4 + 8)                  // w0: 2 dims
                                + (8 + 2 + 4 + 8 + 4 + 8);                  // w1: 1 dim
  ASSERT_EQ(r->files()[0].data_offset, (end_of_infos + 63) / 64 * 64);
  check_every_prefix_fails(bytes, end_of_infos);
}

// ------------------------------------------------------------ strings, arrays, counts

TEST(GgufBadInput, StringLengthBeyondTheFile) {
  {
    Builder b;
    b.header(3, 0, 1);
    uint64_t at = b.u64(1000);  // key length
    b.raw("abc", 3);
    b.zeros(40);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "past the end");
  }
  {
    Builder b;
    b.header(3, 0, 1);
    b.key("k", MetaType::STRING);
    uint64_t at = b.u64(100);
    b.zeros(99);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "past the end");
  }
  {
    Builder b;
    b.header(3, 1, 0);
    uint64_t at = b.u64(64);  // tensor name length
    b.zeros(40);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "past the end");
  }
}

TEST(GgufBadInput, HugeStringLength) {
  for (uint64_t len : {uint64_t{1} << 40, uint64_t{1} << 63, UINT64_MAX}) {
    {
      Builder b;
      b.header(3, 0, 1);
      uint64_t at = b.u64(len);
      b.zeros(64);
      EXPECT_PARSE_ERROR(b.bytes, "", at, "exceeds");
    }
    {
      Builder b;
      b.header(3, 0, 1);
      b.key("k", MetaType::STRING);
      uint64_t at = b.u64(len);
      b.zeros(64);
      EXPECT_PARSE_ERROR(b.bytes, "", at, "exceeds");
    }
    {
      Builder b;
      b.header(3, 1, 0);
      uint64_t at = b.u64(len);
      b.zeros(64);
      EXPECT_PARSE_ERROR(b.bytes, "", at, "exceeds");
    }
  }
}

TEST(GgufBadInput, HugeArrayLength) {
  const MetaType elems[] = {MetaType::U8,  MetaType::U32, MetaType::F64,
                            MetaType::STRING, MetaType::ARRAY, MetaType::BOOL};
  for (MetaType elem : elems) {
    for (uint64_t n : {uint64_t{1} << 32, uint64_t{1} << 62, UINT64_MAX}) {
      Builder b;
      b.header(3, 0, 1);
      b.key("arr", MetaType::ARRAY);
      b.u32(static_cast<uint32_t>(elem));
      uint64_t at = b.u64(n);
      b.zeros(256);
      EXPECT_PARSE_ERROR(b.bytes, "", at, "array length");
    }
  }
  // One element more than the bytes left.
  Builder b;
  b.header(3, 0, 1);
  b.key("arr", MetaType::ARRAY);
  b.u32(static_cast<uint32_t>(MetaType::U32));
  uint64_t at = b.u64(5);
  b.zeros(16);
  EXPECT_PARSE_ERROR(b.bytes, "", at, "array length");
}

TEST(GgufBadInput, HugeTensorCount) {
  for (uint64_t n : {uint64_t{1} << 40, uint64_t{1} << 62, UINT64_MAX}) {
    Builder b;
    b.header(3, n, 0);
    b.zeros(1000);
    EXPECT_PARSE_ERROR(b.bytes, "", 8, "tensor count");
  }
}

TEST(GgufBadInput, HugeKeyValueCount) {
  for (uint64_t n : {uint64_t{1} << 40, uint64_t{1} << 62, UINT64_MAX}) {
    Builder b;
    b.header(3, 0, n);
    b.zeros(1000);
    EXPECT_PARSE_ERROR(b.bytes, "", 16, "metadata count");
  }
}

// A very large file (1 TiB) that is all zeros after its header: counts that
// the file's size allows must still not be trusted for allocations, and runs
// of zero-filled entries must stop at the first duplicate.
class ZeroFilledSource final : public ByteSource {
 public:
  ZeroFilledSource(std::vector<std::byte> prefix, uint64_t size) : prefix_(std::move(prefix)), size_(size) {}
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }
  Status read(uint64_t offset, std::span<std::byte> dst) const override {
    if (offset > size_ || dst.size() > size_ - offset) return Error{name_, {}, offset, "read past the end"};
    for (size_t k = 0; k < dst.size(); ++k)
      dst[k] = offset + k < prefix_.size() ? prefix_[offset + k] : std::byte{0};
    return {};
  }

 private:
  std::vector<std::byte> prefix_;
  uint64_t size_;
  std::string name_ = kName;
};

TEST(GgufBadInput, HugeCountsInAHugeFile) {
  const uint64_t size = uint64_t{1} << 40;
  {
    Builder b;
    b.header(3, 0, uint64_t{1} << 36);  // fits 13-byte key/values in 1 TiB
    ZeroFilledSource src(b.bytes, size);
    expect_error_impl(parse_gguf(src), "", 16, "metadata count");
  }
  {
    Builder b;
    b.header(3, 0, 1'000'000);  // every key/value "" = u8 0
    ZeroFilledSource src(b.bytes, size);
    expect_error_impl(parse_gguf(src), "", 24 + 13, "duplicate metadata key");
  }
  {
    Builder b;
    b.header(3, uint64_t{1} << 34, 0);  // fits 24-byte tensor infos in 1 TiB
    ZeroFilledSource src(b.bytes, size);
    // Every info reads as tensor "" of type F32 with no dimensions at offset 0.
    expect_error_impl(parse_gguf(src), "", 24 + 24, "duplicate tensor name");
  }
}

// ------------------------------------------------------------ tensor infos

TEST(GgufBadInput, TooManyDimensions) {
  for (uint32_t n : {5u, 64u, 0xffffffffu}) {
    Builder b;
    b.header(3, 1, 0);
    b.str("t");
    uint64_t at = b.u32(n);
    for (int k = 0; k < 5; ++k) b.i64(1);
    b.u32(kF32);
    b.u64(0);
    b.pad_to(32);
    b.zeros(4);
    EXPECT_PARSE_ERROR(b.bytes, "t", at, "at most 4");
  }
}

TEST(GgufBadInput, NegativeDimension) {
  for (int64_t d : {int64_t{-1}, INT64_MIN}) {
    Builder b;
    b.header(3, 1, 0);
    auto at = b.tensor("neg", {32, d, 2}, kF32, 0);
    b.pad_to(32);
    b.zeros(64);
    EXPECT_PARSE_ERROR(b.bytes, "neg", at.first_dim + 8, "negative");
  }
}

TEST(GgufBadInput, ElementCountOverflow) {
  const std::vector<std::vector<int64_t>> shapes{{int64_t{1} << 40, int64_t{1} << 40},
                                                 {int64_t{1} << 32, int64_t{1} << 32, 1, 1},
                                                 {INT64_MAX},
                                                 {32, int64_t{1} << 40, int64_t{1} << 40}};
  for (const auto& ne : shapes) {
    for (uint32_t type : {kF32, kQ4_0}) {
      Builder b;
      b.header(3, 1, 0);
      auto at = b.tensor("big", ne, type, 0);
      b.pad_to(32);
      b.zeros(64);
      auto r = parse(b.bytes);
      expect_error_impl(r, "big", at.start, "shape is invalid");
      ASSERT_FALSE(r.ok());
      EXPECT_TRUE(r.error().message.find("overflow") != std::string::npos ||
                  r.error().message.find("too large") != std::string::npos)
          << r.error().message;
    }
  }
}

TEST(GgufBadInput, ShapeNotAWholeNumberOfBlocks) {
  Builder b;
  b.header(3, 1, 0);
  auto at = b.tensor("q", {31, 2}, kQ4_0, 0);
  b.pad_to(32);
  b.zeros(64);
  EXPECT_PARSE_ERROR(b.bytes, "q", at.start, "multiple");
}

TEST(GgufBadInput, UnknownTypeId) {
  for (uint32_t id : {40u, 1000u, 0xffffffffu}) {
    Builder b;
    b.header(3, 1, 0);
    auto at = b.tensor("weird", {4}, id, 0);
    b.pad_to(32);
    b.zeros(64);
    EXPECT_PARSE_ERROR(b.bytes, "weird", at.type, "unknown ggml type id " + std::to_string(id));
  }
}

TEST(GgufBadInput, RemovedTypeId) {
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) {
    Builder b;
    b.header(3, 1, 0);
    auto at = b.tensor("old", {32}, id, 0);
    b.pad_to(32);
    b.zeros(64);
    EXPECT_PARSE_ERROR(b.bytes, "old", at.type, "removed");
  }
}

TEST(GgufBadInput, TensorOffsetNotAligned) {
  {
    Builder b;
    b.header(3, 2, 0);
    b.tensor("a", {4}, kF32, 0);
    auto at = b.tensor("b", {4}, kF32, 16);  // default alignment 32
    b.pad_to(32);
    b.zeros(64);
    EXPECT_PARSE_ERROR(b.bytes, "b", at.start, "not a multiple");
  }
  {
    Builder b;
    b.header(3, 1, 1);
    b.kv_u32("general.alignment", 64);
    auto at = b.tensor("c", {4}, kF32, 32);
    b.pad_to(64);
    b.zeros(64);
    EXPECT_PARSE_ERROR(b.bytes, "c", at.start, "not a multiple");
  }
  {  // with alignment 1 any offset is fine
    Builder b;
    b.header(3, 1, 1);
    b.kv_u32("general.alignment", 1);
    b.tensor("d", {4}, kF32, 3);
    uint64_t data = b.pos();
    b.zeros(3 + 16);
    auto r = parse(b.bytes);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->files()[0].data_offset, data);
    EXPECT_EQ(r->tensors()[0].offset, data + 3);
  }
}

TEST(GgufBadInput, TensorOffsetOutOfRange) {
  {  // relative offset far beyond the file
    Builder b;
    b.header(3, 1, 0);
    b.tensor("far", {4}, kF32, uint64_t{1} << 63);
    uint64_t data = b.pad_to(32);
    b.zeros(16);
    EXPECT_PARSE_ERROR(b.bytes, "far", data + (uint64_t{1} << 63), "past the end");
  }
  {  // absolute offset would overflow 64 bits
    Builder b;
    b.header(3, 1, 0);
    auto at = b.tensor("wrap", {4}, kF32, UINT64_MAX - 31);
    b.pad_to(32);
    b.zeros(16);
    EXPECT_PARSE_ERROR(b.bytes, "wrap", at.start, "overflow");
  }
  {  // data one byte short
    Builder b;
    b.header(3, 2, 0);
    b.tensor("a", {8}, kF32, 0);
    b.tensor("b", {8}, kF32, 32);
    uint64_t data = b.pad_to(32);
    b.zeros(32 + 31);
    EXPECT_PARSE_ERROR(b.bytes, "b", data + 32, "past the end");
  }
  {  // starts exactly at the end of the file, with bytes to hold
    Builder b;
    b.header(3, 1, 0);
    b.tensor("a", {1}, kF32, 32);
    uint64_t data = b.pad_to(32);
    b.zeros(32);
    EXPECT_PARSE_ERROR(b.bytes, "a", data + 32, "past the end");
  }
}

TEST(GgufBadInput, OverlappingTensors) {
  {
    Builder b;
    b.header(3, 2, 0);
    b.tensor("a", {16}, kF32, 0);   // [0, 64)
    b.tensor("b", {16}, kF32, 32);  // [32, 96)
    uint64_t data = b.pad_to(32);
    b.zeros(96);
    EXPECT_PARSE_ERROR(b.bytes, "b", data + 32, "overlaps tensor 'a'");
  }
  {  // listed in the other order
    Builder b;
    b.header(3, 2, 0);
    b.tensor("b", {16}, kF32, 32);
    b.tensor("a", {16}, kF32, 0);
    uint64_t data = b.pad_to(32);
    b.zeros(96);
    EXPECT_PARSE_ERROR(b.bytes, "b", data + 32, "overlaps tensor 'a'");
  }
  {  // one inside another
    Builder b;
    b.header(3, 2, 0);
    b.tensor("outer", {64}, kF32, 0);  // [0, 256)
    b.tensor("inner", {8}, kF32, 64);  // [64, 96)
    uint64_t data = b.pad_to(32);
    b.zeros(256);
    EXPECT_PARSE_ERROR(b.bytes, "inner", data + 64, "overlaps tensor 'outer'");
  }
  {  // the same bytes twice
    Builder b;
    b.header(3, 2, 0);
    b.tensor("x", {8}, kF32, 0);
    b.tensor("y", {8}, kF32, 0);
    uint64_t data = b.pad_to(32);
    b.zeros(32);
    auto r = parse(b.bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().offset, std::optional<uint64_t>(data));
    EXPECT_TRUE(r.error().tensor == "x" || r.error().tensor == "y") << r.error().to_string();
    EXPECT_NE(r.error().message.find("overlaps"), std::string::npos) << r.error().to_string();
  }
  {  // touching is not overlapping; empty tensors hold no bytes
    Builder b;
    b.header(3, 3, 0);
    b.tensor("a", {8}, kF32, 0);
    b.tensor("e", {0}, kF32, 0);
    b.tensor("c", {8}, kF32, 32);
    b.pad_to(32);
    b.zeros(64);
    auto r = parse(b.bytes);
    EXPECT_TRUE(r.ok()) << r.error().to_string();
  }
}

// check_tensor_ranges() (src/format/parsed_file.cc, not owned by these tests)
// compares each tensor only with its neighbour in offset order, so an empty
// tensor between two overlapping ones hides the overlap. Enable once fixed.
TEST(GgufBadInput, OverlapHiddenBehindAnEmptyTensor) {
  Builder b;
  b.header(3, 3, 0);
  b.tensor("outer", {32}, kF32, 0);  // [0, 128)
  b.tensor("empty", {0}, kF32, 32);
  b.tensor("inner", {8}, kF32, 64);  // [64, 96)
  uint64_t data = b.pad_to(32);
  b.zeros(128);
  EXPECT_PARSE_ERROR(b.bytes, "inner", data + 64, "overlaps tensor 'outer'");
}

TEST(GgufBadInput, DuplicateTensorNames) {
  Builder b;
  b.header(3, 3, 0);
  b.tensor("w", {4}, kF32, 0);
  b.tensor("v", {4}, kF32, 32);
  auto at = b.tensor("w", {4}, kF32, 64);
  b.pad_to(32);
  b.zeros(96);
  EXPECT_PARSE_ERROR(b.bytes, "w", at.start, "duplicate tensor name");
}

// ------------------------------------------------------------ metadata

TEST(GgufBadInput, DuplicateMetadataKeys) {
  Builder b;
  b.header(3, 0, 3);
  b.kv_u32("k", 1);
  b.kv_str("other", "x");
  uint64_t at = b.kv_str("k", "again");
  b.pad_to(32);
  EXPECT_PARSE_ERROR(b.bytes, "", at, "duplicate metadata key 'k'");
}

TEST(GgufBadInput, AlignmentOfTheWrongType) {
  struct Case {
    MetaType type;
    std::vector<uint8_t> value;
  };
  const Case cases[] = {{MetaType::U64, {32, 0, 0, 0, 0, 0, 0, 0}},
                        {MetaType::I32, {32, 0, 0, 0}},
                        {MetaType::U16, {32, 0}},
                        {MetaType::U8, {32}},
                        {MetaType::STRING, {2, 0, 0, 0, 0, 0, 0, 0, '3', '2'}}};
  for (const Case& c : cases) {
    Builder b;
    b.header(3, 0, 1);
    uint64_t at = b.key("general.alignment", c.type);
    b.raw(c.value.data(), c.value.size());
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "expected u32");
  }
}

TEST(GgufBadInput, AlignmentNotAPowerOfTwo) {
  for (uint32_t a : {0u, 3u, 48u, 100u, 0x80000001u, 0xffffffffu}) {
    Builder b;
    b.header(3, 0, 2);
    b.kv_str("general.name", "n");
    uint64_t at = b.kv_u32("general.alignment", a);
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "power of two");
  }
}

// Arrays of arrays of ... deeper than any real file: the parser must stop
// early (no deep recursion) at the start of one of the nested array headers.
TEST(GgufBadInput, ArraysNestedTooDeep) {
  for (int levels : {64, 100000}) {
    Builder b;
    b.header(3, 0, 1);
    b.key("deep", MetaType::ARRAY);
    uint64_t first = b.pos();  // each nested header: element type (4) + length (8)
    for (int k = 0; k < levels - 1; ++k) {
      b.u32(static_cast<uint32_t>(MetaType::ARRAY));
      b.u64(1);
    }
    b.u32(static_cast<uint32_t>(MetaType::U8));
    b.u64(1);
    b.u8(7);
    b.pad_to(32);
    auto r = parse(b.bytes);
    ASSERT_FALSE(r.ok());
    const Error& e = r.error();
    EXPECT_EQ(e.file, kName);
    EXPECT_EQ(e.tensor, "");
    EXPECT_NE(e.message.find("nested"), std::string::npos) << e.to_string();
    ASSERT_TRUE(e.offset.has_value());
    ASSERT_GT(*e.offset, first);
    EXPECT_EQ((*e.offset - first) % 12, 0u) << e.to_string();
    EXPECT_LE((*e.offset - first) / 12, 32u) << "went too deep: " << e.to_string();
  }
}

TEST(GgufBadInput, BoolValueTwo) {
  {
    Builder b;
    b.header(3, 0, 1);
    b.key("flag", MetaType::BOOL);
    uint64_t at = b.u8(2);
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "bool");
  }
  {
    Builder b;
    b.header(3, 0, 1);
    b.key("flags", MetaType::ARRAY);
    b.u32(static_cast<uint32_t>(MetaType::BOOL));
    b.u64(3);
    b.u8(1);
    b.u8(0);
    uint64_t at = b.u8(0xff);
    b.pad_to(32);
    EXPECT_PARSE_ERROR(b.bytes, "", at, "bool");
  }
}

TEST(GgufBadInput, UnknownMetadataValueType) {
  for (uint32_t t : {13u, 100u, 0xffffffffu}) {
    {
      Builder b;
      b.header(3, 0, 1);
      b.str("key");
      uint64_t at = b.u32(t);
      b.zeros(16);
      b.pad_to(32);
      EXPECT_PARSE_ERROR(b.bytes, "", at, "unknown value type " + std::to_string(t));
    }
    {
      Builder b;
      b.header(3, 0, 1);
      b.key("arr", MetaType::ARRAY);
      uint64_t at = b.u32(t);  // element type
      b.u64(1);
      b.zeros(16);
      b.pad_to(32);
      EXPECT_PARSE_ERROR(b.bytes, "", at, "unknown value type " + std::to_string(t));
    }
  }
}

// ------------------------------------------------------------ through a real file

TEST(GgufBadInput, ErrorsNameThePathOfARealFile) {
  TempDir dir;
  Builder b;
  b.header(3, 1, 0);
  auto at = b.tensor("t", {4}, 999, 0);
  b.pad_to(32);
  b.zeros(16);
  std::string path = dir.file("model.gguf");
  write_file(path, b.bytes);
  auto file = File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  FileSource src(*file);
  expect_error_impl(parse_gguf(src), "t", at.type, "unknown ggml type id 999", path);

  write_file(path, {});
  auto empty = File::open(path);
  ASSERT_TRUE(empty.ok());
  FileSource empty_src(*empty);
  expect_error_impl(parse_gguf(empty_src), "", 0, "empty", path);
}

// A patched byte in a written file: the writer's output is only as trusted
// as any other file.
TEST(GgufBadInput, PatchedWrittenFile) {
  TempDir dir;
  GgufWriter w;
  w.add_tensor("w", DType::F32, {4}, TensorData::bytes(std::vector<std::byte>(16)));
  ASSERT_TRUE(w.write(dir.file("p.gguf")).ok());
  auto bytes = read_file(dir.file("p.gguf"));
  // Header (24) + name length (8) + "w" + n_dims (4) + ne[0] (8) = type id at 45;
  // then the offset (8) ends the infos at 57, padded to 64.
  const uint64_t type_at = 24 + 8 + 1 + 4 + 8;
  ASSERT_EQ(bytes.size(), 64u + 16);
  test::poke_u32(bytes, type_at, 77);
  EXPECT_PARSE_ERROR(bytes, "w", type_at, "unknown ggml type id 77");
  test::poke_u32(bytes, type_at, 0);
  test::poke_u64(bytes, type_at + 4, 32);  // offset past the data
  EXPECT_PARSE_ERROR(bytes, "w", 64u + 32, "past the end");
}

}  // namespace
}  // namespace wm
