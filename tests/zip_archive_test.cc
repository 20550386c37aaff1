// The zip directory reader on archives built here byte by byte (classic and
// ZIP64 records, stored and deflated entries, padded local headers as
// PyTorch writes them) and on corrupted ones, which must fail with the byte
// offset of the bad record; and PyTorch-level checks on such archives
// (storage sizes, views past their storage, missing entries).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>

#include "format/torch_reader.h"
#include "format/zip_archive.h"
#include "test_support.h"
#include "torch_reference.h"

namespace wm {
namespace {

using Bytes = std::vector<std::byte>;

void put(Bytes& b, const void* p, size_t n) {
  size_t at = b.size();
  b.resize(at + n);
  std::memcpy(b.data() + at, p, n);
}
template <class T>
void put(Bytes& b, T v) {
  put(b, &v, sizeof v);
}
void put(Bytes& b, const std::string& s) { put(b, s.data(), s.size()); }

struct Entry {
  std::string name;
  std::string data;
  bool deflate = false;
  uint16_t pad = 0;  // extra bytes in the local header, as PyTorch aligns data
};

// A zip of `entries`; with `zip64`, sizes and offsets in the central
// directory are 0xffffffff with a ZIP64 extra field, and the end record
// points to a ZIP64 end record through a locator.
Bytes make_zip(const std::vector<Entry>& entries, bool zip64 = false) {
  Bytes out;
  struct Meta {
    uint64_t offset, csize, usize;
    uint32_t crc;
    uint16_t method;
  };
  std::vector<Meta> metas;
  for (const auto& e : entries) {
    std::string stored = e.data;
    if (e.deflate) {
      z_stream z{};
      deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      stored.resize(deflateBound(&z, e.data.size()));
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(e.data.data()));
      z.avail_in = static_cast<uInt>(e.data.size());
      z.next_out = reinterpret_cast<Bytef*>(stored.data());
      z.avail_out = static_cast<uInt>(stored.size());
      EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
      stored.resize(z.total_out);
      deflateEnd(&z);
    }
    Meta m{out.size(), stored.size(), e.data.size(),
           static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size()))),
           static_cast<uint16_t>(e.deflate ? 8 : 0)};
    put<uint32_t>(out, 0x04034b50);
    put<uint16_t>(out, 20);
    put<uint16_t>(out, 0);
    put<uint16_t>(out, m.method);
    put<uint32_t>(out, 0);
    put<uint32_t>(out, m.crc);
    put<uint32_t>(out, static_cast<uint32_t>(m.csize));
    put<uint32_t>(out, static_cast<uint32_t>(m.usize));
    put<uint16_t>(out, static_cast<uint16_t>(e.name.size()));
    put<uint16_t>(out, e.pad ? static_cast<uint16_t>(e.pad + 4) : 0);
    put(out, e.name);
    if (e.pad) {
      put<uint16_t>(out, 0x4246);  // "FB": PyTorch's padding field
      put<uint16_t>(out, e.pad);
      put(out, std::string(e.pad, 'Z'));
    }
    put(out, stored);
    metas.push_back(m);
  }
  uint64_t dir = out.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Meta& m = metas[i];
    put<uint32_t>(out, 0x02014b50);
    put<uint16_t>(out, 45);
    put<uint16_t>(out, 45);
    put<uint16_t>(out, 0);
    put<uint16_t>(out, m.method);
    put<uint32_t>(out, 0);
    put<uint32_t>(out, m.crc);
    put<uint32_t>(out, zip64 ? 0xffffffff : static_cast<uint32_t>(m.csize));
    put<uint32_t>(out, zip64 ? 0xffffffff : static_cast<uint32_t>(m.usize));
    put<uint16_t>(out, static_cast<uint16_t>(entries[i].name.size()));
    put<uint16_t>(out, zip64 ? 28 : 0);
    put<uint16_t>(out, 0);
    put<uint16_t>(out, 0);
    put<uint16_t>(out, 0);
    put<uint32_t>(out, 0);
    put<uint32_t>(out, zip64 ? 0xffffffff : static_cast<uint32_t>(m.offset));
    put(out, entries[i].name);
    if (zip64) {
      put<uint16_t>(out, 0x0001);
      put<uint16_t>(out, 24);
      put<uint64_t>(out, m.usize);
      put<uint64_t>(out, m.csize);
      put<uint64_t>(out, m.offset);
    }
  }
  uint64_t dir_size = out.size() - dir;
  if (zip64) {
    uint64_t end64 = out.size();
    put<uint32_t>(out, 0x06064b50);
    put<uint64_t>(out, 44);
    put<uint16_t>(out, 45);
    put<uint16_t>(out, 45);
    put<uint32_t>(out, 0);
    put<uint32_t>(out, 0);
    put<uint64_t>(out, entries.size());
    put<uint64_t>(out, entries.size());
    put<uint64_t>(out, dir_size);
    put<uint64_t>(out, dir);
    put<uint32_t>(out, 0x07064b50);
    put<uint32_t>(out, 0);
    put<uint64_t>(out, end64);
    put<uint32_t>(out, 1);
  }
  put<uint32_t>(out, 0x06054b50);
  put<uint16_t>(out, 0);
  put<uint16_t>(out, 0);
  put<uint16_t>(out, zip64 ? 0xffff : static_cast<uint16_t>(entries.size()));
  put<uint16_t>(out, zip64 ? 0xffff : static_cast<uint16_t>(entries.size()));
  put<uint32_t>(out, zip64 ? 0xffffffff : static_cast<uint32_t>(dir_size));
  put<uint32_t>(out, zip64 ? 0xffffffff : static_cast<uint32_t>(dir));
  put<uint16_t>(out, 0);
  return out;
}

std::string as_string(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class ZipArchiveTest : public ::testing::TestWithParam<bool> {};  // param: zip64

TEST_P(ZipArchiveTest, LocatesStoredAndDeflatedEntries) {
  std::string big(5000, 'q');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 7);
  Bytes zip = make_zip({{"a/data.pkl", "hello", false, 0}, {"a/data/0", big, false, 57}, {"a/data/1", big, true, 0}},
                       GetParam());
  MemorySource src(zip, "t.zip");
  auto z = ZipArchive::open(src);
  ASSERT_TRUE(z.ok()) << z.error().to_string();
  ASSERT_EQ(z->entries().size(), 3u);
  const ZipEntry* e0 = z->find("a/data/0");
  ASSERT_NE(e0, nullptr);
  EXPECT_EQ(e0->method, ZipMethod::kStored);
  EXPECT_EQ(e0->uncompressed_size, big.size());
  // The data offset skips the padded local header: the bytes are there.
  EXPECT_EQ(std::memcmp(zip.data() + e0->data_offset, big.data(), big.size()), 0);
  const ZipEntry* e1 = z->find("a/data/1");
  ASSERT_NE(e1, nullptr);
  EXPECT_EQ(e1->method, ZipMethod::kDeflated);
  EXPECT_LT(e1->compressed_size, big.size());
  auto inflated = z->read(src, *e1, 1 << 20);
  ASSERT_TRUE(inflated.ok()) << inflated.error().to_string();
  EXPECT_EQ(as_string(*inflated), big);
  // A slice from the middle, as a view of a deflated storage reads it.
  Bytes part(100);
  ASSERT_TRUE(inflate_range(src, e1->data_offset, e1->compressed_size, 1234, part, e1->name).ok());
  EXPECT_EQ(as_string(part), big.substr(1234, 100));
  // Past the end of the inflated data.
  Bytes too_far(100);
  auto s = inflate_range(src, e1->data_offset, e1->compressed_size, 4950, too_far, e1->name);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.error().message, "ends after")) << s.error().message;
  // Limits on read.
  EXPECT_FALSE(z->read(src, *e1, 10).ok());
}

INSTANTIATE_TEST_SUITE_P(Classic, ZipArchiveTest, ::testing::Values(false));
INSTANTIATE_TEST_SUITE_P(Zip64, ZipArchiveTest, ::testing::Values(true));

Error open_error(const Bytes& zip) {
  MemorySource src(zip, "bad.zip");
  auto z = ZipArchive::open(src);
  EXPECT_FALSE(z.ok());
  if (z.ok()) return {};
  EXPECT_EQ(z.error().file, "bad.zip");
  EXPECT_TRUE(z.error().offset.has_value()) << z.error().message;
  return z.error();
}

TEST(ZipArchiveBad, CorruptionsAreNamedWithTheirOffset) {
  Bytes good = make_zip({{"a/data.pkl", "hello", false, 0}, {"a/x", "world", false, 0}});
  size_t end = good.size() - 22;
  uint32_t dir;
  std::memcpy(&dir, good.data() + end + 16, 4);

  EXPECT_TRUE(contains(open_error(Bytes(good.begin(), good.begin() + 10)).message, "too short"));
  Bytes no_end(good.begin(), good.end() - 3);
  EXPECT_TRUE(contains(open_error(no_end).message, "no end-of-central-directory"));

  Bytes dir_past = good;
  test::poke_u32(dir_past, end + 16, static_cast<uint32_t>(good.size()));
  EXPECT_TRUE(contains(open_error(dir_past).message, "runs past the end record"));

  Bytes bad_central = good;
  bad_central[dir] = std::byte{0};
  Error e = open_error(bad_central);
  EXPECT_TRUE(contains(e.message, "central directory entry signature")) << e.message;
  EXPECT_EQ(e.offset, std::optional<uint64_t>(dir));

  Bytes bad_local = good;
  bad_local[0] = std::byte{0};
  EXPECT_TRUE(contains(open_error(bad_local).message, "local header signature"));

  Bytes encrypted = good;
  encrypted[dir + 8] = std::byte{1};
  EXPECT_TRUE(contains(open_error(encrypted).message, "encrypted"));

  Bytes method = good;
  method[dir + 10] = std::byte{12};  // bzip2
  EXPECT_TRUE(contains(open_error(method).message, "method 12"));

  Bytes too_long = good;
  test::poke_u32(too_long, dir + 20, 1000);  // compressed size
  test::poke_u32(too_long, dir + 24, 1000);
  EXPECT_TRUE(contains(open_error(too_long).message, "runs into the central directory"));

  Bytes twice = make_zip({{"a/x", "1", false, 0}, {"a/x", "2", false, 0}});
  EXPECT_TRUE(contains(open_error(twice).message, "duplicate zip entry 'a/x'"));

  Bytes count = good;
  count[end + 10] = std::byte{200};
  count[end + 8] = std::byte{200};
  EXPECT_TRUE(contains(open_error(count).message, "cannot fit"));
}

TEST(ZipArchiveBad, DeflatedEntryWithBadCrcIsRefusedOnRead) {
  Bytes zip = make_zip({{"a/b", std::string(300, 'x'), true, 0}});
  size_t dir;
  {
    MemorySource src(zip, "crc.zip");
    auto z = ZipArchive::open(src);
    ASSERT_TRUE(z.ok());
    dir = z->entries()[0].data_offset + z->entries()[0].compressed_size;
  }
  test::poke_u32(zip, dir + 16, 0x12345678);  // central crc
  MemorySource src(zip, "crc.zip");
  auto z = ZipArchive::open(src);
  ASSERT_TRUE(z.ok());
  auto r = z->read(src, z->entries()[0], 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "CRC")) << r.error().message;
}

// A checkpoint whose data.pkl is taken from the views.pt fixture but whose
// storages are replaced: sizes that disagree are errors naming the tensor.
TEST(TorchZipBad, StorageSizeAndMissingEntriesAreNamed) {
  auto fixture = test::read_file(test::torch_fixture("dtypes.pt"));
  MemorySource fsrc(fixture, "dtypes.pt");
  auto fz = ZipArchive::open(fsrc);
  ASSERT_TRUE(fz.ok());
  std::vector<Entry> entries;
  std::string pkl_name;
  for (const auto& e : fz->entries()) {
    auto bytes = fz->read(fsrc, e, 1 << 20);
    ASSERT_TRUE(bytes.ok());
    entries.push_back({e.name, as_string(*bytes), false, 0});
  }
  // Shrink the first storage by one byte.
  for (auto& e : entries)
    if (contains(e.name, "/data/0")) e.data.pop_back();
  Bytes shrunk = make_zip(entries);
  MemorySource s1(shrunk, "shrunk.pt");
  auto t1 = parse_torch(s1);
  ASSERT_FALSE(t1.ok());
  EXPECT_TRUE(contains(t1.error().message, "holds")) << t1.error().message;
  EXPECT_FALSE(t1.error().tensor.empty());
  // Drop it.
  std::vector<Entry> fewer;
  for (auto& e : entries)
    if (!contains(e.name, "/data/0")) fewer.push_back(e);
  Bytes missing = make_zip(fewer);
  MemorySource s2(missing, "missing.pt");
  auto t2 = parse_torch(s2);
  ASSERT_FALSE(t2.ok());
  EXPECT_TRUE(contains(t2.error().message, "has no entry")) << t2.error().message;
  // Without data.pkl it is not a checkpoint.
  Bytes plain = make_zip({{"readme.txt", "hi", false, 0}});
  MemorySource s3(plain, "plain.zip");
  auto t3 = parse_torch(s3);
  ASSERT_FALSE(t3.ok());
  EXPECT_TRUE(contains(t3.error().message, "data.pkl")) << t3.error().message;
}

TEST(TorchZipBad, ViewPastItsStorageIsRefused) {
  // _rebuild_tensor_v2 of a 4-element storage with offset 2 and size 3.
  std::string pkl = std::string("\x80\x02}(X\x01\x00\x00\x00w", 10) + "ctorch._utils\n_rebuild_tensor_v2\n((" +
                    std::string("X\x07\x00\x00\x00storage", 12) + "ctorch\nFloatStorage\n" +
                    std::string("X\x01\x00\x00\x00" "0", 6) + std::string("X\x03\x00\x00\x00" "cpu", 8) +
                    "K\x04tQK\x02K\x03\x85K\x01\x85\x89}tRu.";
  Bytes zip = make_zip({{"a/data.pkl", pkl, false, 0}, {"a/data/0", std::string(16, '\0'), false, 0}});
  MemorySource src(zip, "view.pt");
  auto t = parse_torch(src);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().tensor, "w");
  EXPECT_TRUE(contains(t.error().message, "reaches element 4 of a 4 element storage")) << t.error().message;
  // The same view within bounds is accepted, and plain.
  std::string ok = pkl;
  ok.replace(ok.find("K\x02K\x03\x85"), 5, std::string("K\x01K\x03\x85", 5));
  Bytes zip2 = make_zip({{"a/data.pkl", ok, false, 0}, {"a/data/0", std::string(16, '\0'), false, 0}});
  MemorySource src2(zip2, "view.pt");
  auto t2 = parse_torch(src2);
  ASSERT_TRUE(t2.ok()) << t2.error().to_string();
  ASSERT_EQ(t2->tensors().size(), 1u);
  EXPECT_TRUE(t2->tensors()[0].plain_source());
  EXPECT_EQ(t2->tensors()[0].nbytes, 12u);
}

}  // namespace
}  // namespace wm
