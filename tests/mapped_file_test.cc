// MappedFile (read-only shared mapping of a whole file), PrivateRange
// (copy-on-write mapping of a byte range, revertible) and page-cache residency.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "io/mapped_file.h"
#include "io/page_size.h"
#include "io/residency.h"
#include "page_cache_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

using test::pattern;

std::shared_ptr<const File> open_shared(const std::string& path) {
  auto f = File::open(path);
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return std::make_shared<const File>(std::move(f.value()));
}

const uint64_t kPage = page_size();

TEST(MappedFile, MapsExactlyTheFilesBytes) {
  TempDir dir;
  const std::string path = dir.file("m.bin");
  auto bytes = pattern(3 * kPage + 123, 1);  // not a whole number of pages
  write_file(path, bytes);
  auto file = open_shared(path);
  auto m = MappedFile::map(file);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  ASSERT_EQ(m->size(), bytes.size());
  EXPECT_EQ(std::memcmp(m->data(), bytes.data(), bytes.size()), 0);
  EXPECT_EQ(m->file().path(), path);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data()) % kPage, 0u);
  auto r = m->range(kPage + 5, 300);
  EXPECT_EQ(r.size(), 300u);
  EXPECT_EQ(std::memcmp(r.data(), bytes.data() + kPage + 5, 300), 0);
}

TEST(MappedFile, KeepsTheFileOpenForItsLife) {
  TempDir dir;
  const std::string path = dir.file("m.bin");
  auto bytes = pattern(5000, 2);
  write_file(path, bytes);
  auto file = open_shared(path);
  const File* raw = file.get();
  auto m = MappedFile::map(std::move(file));
  ASSERT_TRUE(m.ok());
  // The caller's reference is gone; the mapping holds the File (and its fd).
  EXPECT_EQ(&m->file(), raw);
  EXPECT_TRUE(m->file().native_handle().valid());
  std::filesystem::remove(path);  // unlinking does not disturb the mapping
  EXPECT_EQ(std::memcmp(m->data(), bytes.data(), bytes.size()), 0);
}

TEST(MappedFile, ZeroSizedFileIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.file("empty.bin");
  write_file(path, {});
  auto m = MappedFile::map(open_shared(path));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().file, path);
  EXPECT_NE(m.error().message.find("zero-sized"), std::string::npos) << m.error().message;
}

TEST(MappedFile, MoveKeepsOneOwner) {
  TempDir dir;
  const std::string path = dir.file("m.bin");
  auto bytes = pattern(9000, 3);
  write_file(path, bytes);
  auto m = MappedFile::map(open_shared(path));
  ASSERT_TRUE(m.ok());
  const std::byte* data = m->data();
  MappedFile a(std::move(m.value()));
  EXPECT_EQ(a.data(), data);
  EXPECT_EQ(a.size(), bytes.size());
  auto other = MappedFile::map(open_shared(path));
  ASSERT_TRUE(other.ok());
  MappedFile b(std::move(other.value()));
  b = std::move(a);  // b's own mapping is unmapped, a's moves in
  EXPECT_EQ(b.data(), data);
  EXPECT_EQ(std::memcmp(b.data(), bytes.data(), bytes.size()), 0);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
}

TEST(PrivateRange, WritesStayInTheRangeAndNeverReachTheFile) {
  TempDir dir;
  const std::string path = dir.file("p.bin");
  auto bytes = pattern(4 * kPage, 4);
  write_file(path, bytes);
  auto file = open_shared(path);
  const uint64_t off = kPage + 100, len = kPage;  // straddles a page boundary, unaligned start
  auto r = PrivateRange::map(*file, off, len);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->size(), len);
  EXPECT_EQ(std::memcmp(r->data(), bytes.data() + off, len), 0);

  auto shared = MappedFile::map(file);
  ASSERT_TRUE(shared.ok());
  for (uint64_t k = 0; k < len; ++k) r->data()[k] = ~bytes[off + k];
  for (uint64_t k = 0; k < len; k += 97) ASSERT_EQ(r->data()[k], ~bytes[off + k]);
  // The file on disk and a shared mapping of it are unchanged.
  EXPECT_EQ(read_file(path), bytes);
  EXPECT_EQ(std::memcmp(shared->data(), bytes.data(), bytes.size()), 0);
  // A second private range of the same bytes does not see the first's writes.
  auto r2 = PrivateRange::map(*file, off, len);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(std::memcmp(r2->data(), bytes.data() + off, len), 0);
}

TEST(PrivateRange, RevertRestoresTheFilesBytes) {
  TempDir dir;
  const std::string path = dir.file("p.bin");
  auto bytes = pattern(3 * kPage + 77, 5);
  write_file(path, bytes);
  auto file = open_shared(path);
  const uint64_t off = 2 * kPage + 13, len = kPage + 64;  // runs to the file's last bytes
  ASSERT_EQ(off + len, bytes.size());
  auto r = PrivateRange::map(*file, off, len);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  std::memset(r->data(), 0x5a, len);
  EXPECT_EQ(r->data()[len - 1], std::byte{0x5a});
  Status s = r->revert();
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(std::memcmp(r->data(), bytes.data() + off, len), 0);
  // Still writable after a revert, and revert again works.
  r->data()[0] = ~bytes[off];
  EXPECT_EQ(r->data()[0], ~bytes[off]);
  ASSERT_TRUE(r->revert().ok());
  EXPECT_EQ(r->data()[0], bytes[off]);
  EXPECT_EQ(read_file(path), bytes);
}

TEST(PrivateRange, OddOffsetsAndTinyRanges) {
  TempDir dir;
  const std::string path = dir.file("p.bin");
  auto bytes = pattern(2 * kPage, 6);
  write_file(path, bytes);
  auto file = open_shared(path);
  for (uint64_t off : {uint64_t{0}, uint64_t{1}, uint64_t{3}, kPage - 1, kPage, kPage + 7, 2 * kPage - 1}) {
    auto r = PrivateRange::map(*file, off, 1);
    ASSERT_TRUE(r.ok()) << off;
    EXPECT_EQ(r->data()[0], bytes[off]) << off;
    r->data()[0] = std::byte{0};
  }
  EXPECT_EQ(read_file(path), bytes);
}

TEST(PrivateRange, RangesOutsideTheFileAreErrors) {
  TempDir dir;
  const std::string path = dir.file("p.bin");
  write_file(path, pattern(1000, 7));
  auto file = open_shared(path);
  auto empty = PrivateRange::map(*file, 10, 0);
  EXPECT_FALSE(empty.ok());
  auto past = PrivateRange::map(*file, 900, 101);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().file, path);
  EXPECT_EQ(past.error().offset, 900u);
  EXPECT_FALSE(PrivateRange::map(*file, 1001, 1).ok());
  EXPECT_FALSE(PrivateRange::map(*file, 1000, 1).ok());
  EXPECT_FALSE(PrivateRange::map(*file, 1, UINT64_MAX).ok());  // no wrap-around
  EXPECT_TRUE(PrivateRange::map(*file, 999, 1).ok());
  EXPECT_TRUE(PrivateRange::map(*file, 0, 1000).ok());
}

TEST(PrivateRange, MoveTransfersTheMapping) {
  TempDir dir;
  const std::string path = dir.file("p.bin");
  auto bytes = pattern(5000, 8);
  write_file(path, bytes);
  auto file = open_shared(path);
  auto r = PrivateRange::map(*file, 4000, 1000);
  ASSERT_TRUE(r.ok());
  std::byte* data = r->data();
  data[0] = std::byte{1};
  PrivateRange moved(std::move(r.value()));
  EXPECT_EQ(moved.data(), data);
  EXPECT_EQ(moved.size(), 1000u);
  EXPECT_EQ(moved.data()[0], std::byte{1});
  EXPECT_EQ(moved.data()[999], bytes[4999]);
}

TEST(MappedFileResidency, CountsResidentPagesOfAFileJustRead) {
  std::string why;
  if (!test::residency_sees_page_cache(&why)) GTEST_SKIP() << why;
  TempDir dir;
  const std::string path = dir.file("r.bin");
  auto bytes = pattern(5 * kPage + 10, 9);
  write_file(path, bytes);
  ASSERT_EQ(read_file(path), bytes);  // now in the page cache
  auto file = open_shared(path);
  auto r = page_cache_residency(*file);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->file_bytes, bytes.size());
  // Just written and read: every page cached (the last one counts its real bytes only).
  EXPECT_EQ(r->resident_bytes, bytes.size());
  EXPECT_DOUBLE_EQ(r->fraction(), 1.0);

  write_file(dir.file("e.bin"), {});
  auto e = page_cache_residency(*open_shared(dir.file("e.bin")));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->file_bytes, 0u);
  EXPECT_EQ(e->resident_bytes, 0u);
  EXPECT_DOUBLE_EQ(e->fraction(), 1.0);
}

TEST(MappedFileResidency, NeverMoreThanTheFile) {
  TempDir dir;
  const std::string path = dir.file("r.bin");
  write_file(path, pattern(3 * kPage + 1, 10));
  auto file = open_shared(path);
  test::make_cold(path);  // where it can (not on Windows): the bound holds either way
  auto r = page_cache_residency(*file);
  ASSERT_TRUE(r.ok());
  EXPECT_LE(r->resident_bytes, r->file_bytes);
  EXPECT_GE(r->fraction(), 0.0);
  EXPECT_LE(r->fraction(), 1.0);
}

}  // namespace
}  // namespace wm
