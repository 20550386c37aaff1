// Residency, the parallel prefetcher, O_DIRECT and io_uring reads, and
// eviction, on real files: bytes read equal the file's; a prefetch leaves
// the ranges cached; O_DIRECT leaves a cold file cold; eviction empties the
// cache; a file truncated under a mapping gives an error, not SIGBUS.
#include <gtest/gtest.h>

#include <cstring>

#include "io/direct_file.h"
#include "io/fault_injection.h"
#include "io/mapped_file.h"
#include "io/page_cache.h"
#include "io/prefetch.h"
#include "io/read_bandwidth.h"
#include "io/residency.h"
#include "io/uring_reader.h"
#include "page_cache_support.h"
#include "platform_support.h"
#include "test_support.h"

namespace wm {
namespace {

using test::TempDir;

constexpr size_t kSize = (8u << 20) + 12345;  // not a multiple of a page

struct Fixture {
  TempDir dir;
  std::string path = dir.file("data.bin");
  std::vector<std::byte> bytes = test::pattern(kSize, 42);
  std::shared_ptr<const File> file;
  Fixture() {
    test::write_file(path, bytes);
    test::make_cold(path);  // also flushes it: dirty pages cannot be evicted
    auto f = File::open(path);
    EXPECT_TRUE(f.ok());
    file = std::make_shared<const File>(std::move(f.value()));
  }
};

#define SKIP_UNLESS_COLD_POSSIBLE(dir)                              \
  do {                                                              \
    std::string why;                                                \
    if (!test::can_make_cold(dir, &why)) GTEST_SKIP() << why;       \
  } while (0)

TEST(Residency, SampledAgreesWithExactOnAFileHalfCached) {
  Fixture fx;
  SKIP_UNLESS_COLD_POSSIBLE(fx.dir.path());
  ASSERT_TRUE(test::make_cold(fx.path));
  // No read-ahead: exactly the half read gets cached.
  ASSERT_TRUE(test::advise_no_readahead(*fx.file));
  std::vector<std::byte> first_half(kSize / 2);
  ASSERT_TRUE(fx.file->read_exact(0, first_half).ok());
  auto m = MappedFile::map(fx.file);
  ASSERT_TRUE(m.ok());
  auto exact = mapped_residency(m->data(), m->size());
  auto sampled = sampled_residency(m->data(), m->size(), 64);
  ASSERT_TRUE(exact.ok() && sampled.ok());
  EXPECT_GE(exact->fraction(), 0.49);
  EXPECT_LE(exact->fraction(), 0.51);
  EXPECT_NEAR(sampled->fraction(), exact->fraction(), 0.1);

  auto missing = missing_ranges(m->data(), m->size());
  ASSERT_TRUE(missing.ok());
  ASSERT_FALSE(missing->empty());
  uint64_t missing_bytes = 0;
  for (const auto& r : *missing) {
    EXPECT_GE(r.offset, kSize / 2 - 4096);  // nothing of the half read is missing
    EXPECT_LE(r.offset + r.len, kSize);
    missing_bytes += r.len;
  }
  EXPECT_EQ(missing_bytes, kSize - exact->resident_bytes);
}

TEST(Prefetcher, PopulatesSpansAndWaitsInOrder) {
  WM_SKIP_UNDER_QEMU("qemu-user ignores madvise, and mincore does not show what the host cached");
  Fixture fx;
  SKIP_UNLESS_COLD_POSSIBLE(fx.dir.path());
  for (bool force_pread : {false, true}) {
    ASSERT_TRUE(test::make_cold(fx.path));
    auto m = MappedFile::map(fx.file);
    ASSERT_TRUE(m.ok());
    // Three spans: odd offsets and lengths, one empty, adjacent ones merged.
    std::vector<PrefetchSpan> spans = {{m->data() + 100, 3000000, fx.file.get(), 100},
                                       {m->data() + 3000100, 0, fx.file.get(), 3000100},
                                       {m->data() + 3000100, 5000000, fx.file.get(), 3000100}};
    PrefetchOptions po;
    po.workers = 3;
    po.chunk_bytes = 1 << 20;
    po.force_pread = force_pread;
    Prefetcher p(spans, po);
    ASSERT_TRUE(p.wait(0).ok());
    ASSERT_TRUE(p.wait(1).ok());
    ASSERT_TRUE(p.wait_all().ok());
    auto r = mapped_residency(m->data() + 100, 8000000);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->resident_bytes, 8000000u) << (force_pread ? "pread" : "populate");
    PrefetchStats s = p.stats();
    EXPECT_TRUE(s.done);
    EXPECT_EQ(s.method, force_pread ? "pread" : "madvise(MADV_POPULATE_READ)");
    EXPECT_GE(s.chunks, 8u);
    EXPECT_EQ(std::memcmp(m->data(), fx.bytes.data(), kSize), 0);
  }
}

TEST(Prefetcher, TruncatedUnderTheMappingIsAnErrorNotSigbus) {
  WM_SKIP_UNDER_QEMU("qemu-user ignores madvise (the populate never faults)");
  Fixture fx;
  auto m = MappedFile::map(fx.file);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(test::make_cold(fx.path) || true);
  std::string why;
  if (!test::shrink_file(fx.path, 4096, &why)) GTEST_SKIP() << why;
  for (bool force_pread : {false, true}) {
    PrefetchOptions po;
    po.workers = 2;
    po.force_pread = force_pread;
    Prefetcher p({{m->data() + (4u << 20), 1u << 20, fx.file.get(), 4u << 20}}, po);
    Status s = p.wait_all();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().file, fx.path);
    ASSERT_TRUE(s.error().offset.has_value());
    EXPECT_EQ(*s.error().offset, 4u << 20);
  }
}

TEST(Prefetcher, StopsEarlyWithoutHanging) {
  Fixture fx;
  auto m = MappedFile::map(fx.file);
  ASSERT_TRUE(m.ok());
  PrefetchOptions po;
  po.workers = 1;
  po.chunk_bytes = 4096;
  auto p = std::make_unique<Prefetcher>(std::vector<PrefetchSpan>{{m->data(), kSize, fx.file.get(), 0}}, po);
  p->stop();
  Status s = p->wait_all();  // either everything was read, or it says it was stopped
  if (!s.ok()) {
    EXPECT_NE(s.error().message.find("stopped"), std::string::npos);
  }
  p.reset();
}

TEST(DirectFile, ReadsUnalignedRangesExactly) {
  Fixture fx;
  auto d = DirectFile::open(*fx.file);
  if (!d.ok()) GTEST_SKIP() << "O_DIRECT unavailable here: " << d.error().message;
  EXPECT_GE(d->offset_align(), 1u);
  void* mem = sys::native_aligned_alloc(4096, 4u << 20);
  std::unique_ptr<std::byte, void (*)(void*)> bounce(static_cast<std::byte*>(mem), &sys::aligned_free);
  for (auto [off, len] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}, {1, 4095}, {4095, 2}, {12345, 3000000},
                                                                     {kSize - 77, 77}}) {
    ASSERT_LE(d->cover_bytes(off, len), 4u << 20);
    auto p = d->read(off, len, {bounce.get(), 4u << 20});
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    EXPECT_EQ(std::memcmp(*p, fx.bytes.data() + off, len), 0) << off << "+" << len;
  }
  auto past = d->read(kSize - 10, 20, {bounce.get(), 4u << 20});
  EXPECT_FALSE(past.ok());
  auto small = d->read(0, 3u << 20, {bounce.get(), 1u << 20});
  EXPECT_FALSE(small.ok());
}

TEST(DirectFile, LeavesAColdFileCold) {
  Fixture fx;
  SKIP_UNLESS_COLD_POSSIBLE(fx.dir.path());
  auto d = DirectFile::open(*fx.file);
  if (!d.ok()) GTEST_SKIP() << "O_DIRECT unavailable here: " << d.error().message;
  ASSERT_TRUE(test::make_cold(fx.path));
  void* mem = sys::native_aligned_alloc(4096, 2u << 20);
  std::unique_ptr<std::byte, void (*)(void*)> bounce(static_cast<std::byte*>(mem), &sys::aligned_free);
  for (uint64_t off = 0; off + (1u << 20) <= kSize; off += 1u << 20)
    ASSERT_TRUE(d->read(off, 1u << 20, {bounce.get(), 2u << 20}).ok());
  EXPECT_LT(test::cached_fraction(fx.path), 0.02);
}

TEST(UringReader, ReadsWithSeveralInFlight) {
  Fixture fx;
  auto u = UringReader::create(4, 64 << 10);
  if (!u.ok()) GTEST_SKIP() << "io_uring unavailable here: " << u.error().message;
  std::vector<std::byte> out(kSize - 1000);
  ASSERT_TRUE(u->read(fx.file->native_handle(), fx.path, 1000, out).ok());
  EXPECT_EQ(std::memcmp(out.data(), fx.bytes.data() + 1000, out.size()), 0);
  std::vector<std::byte> past(2000);
  Status s = u->read(fx.file->native_handle(), fx.path, kSize - 1000, past);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, fx.path);
}

TEST(PageCache, EvictDropsAFileAndDirectBandwidthIsMeasured) {
  Fixture fx;
  SKIP_UNLESS_COLD_POSSIBLE(fx.dir.path());
  std::vector<std::byte> all(kSize);
  ASSERT_TRUE(fx.file->read_exact(0, all).ok());
  EXPECT_GT(test::cached_fraction(fx.path), 0.99);
  ASSERT_TRUE(evict_file(*fx.file).ok());
  EXPECT_LT(test::cached_fraction(fx.path), 0.02);
  auto bw = direct_read_bandwidth(fx.path, 1 << 20, 4);
  if (!bw.ok()) GTEST_SKIP() << bw.error().to_string();
  EXPECT_GE(bw->bytes, kSize - 4096);
  EXPECT_GT(bw->gbps(), 0);
  EXPECT_LT(test::cached_fraction(fx.path), 0.02);
}

}  // namespace
}  // namespace wm
