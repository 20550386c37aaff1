// The `sim` device through the wm::Device interface: its own buffers (no
// host pointer), uploads through a copy queue thread, done callbacks,
// synchronize, download for verification.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "device/sim_device.h"
#include "test_support.h"

namespace wm {
namespace {

using test::pattern;

// Test shorthands over the interface: allocate or fail the test, whole-vector
// uploads and downloads.
DeviceBuffer alloc(SimDevice& dev, uint64_t n) {
  auto b = dev.allocate(n, 1);
  EXPECT_TRUE(b.ok());
  return b.ok() ? b.value() : DeviceBuffer{};
}
void put(SimDevice& dev, const DeviceBuffer& b, uint64_t offset, const std::byte* src, uint64_t n,
         std::function<void()> done) {
  dev.upload(b, offset, src, n, [done = std::move(done)](Status s) {
    EXPECT_TRUE(s.ok());
    if (done) done();
  });
}
void get(SimDevice& dev, const DeviceBuffer& b, uint64_t offset, std::vector<std::byte>& dst) {
  EXPECT_TRUE(dev.download(b, offset, dst.data(), dst.size()).ok());
}
void idle(SimDevice& dev) { EXPECT_TRUE(dev.synchronize().ok()); }

TEST(SimDevice, AllocateTracksSizesAndBytes) {
  SimDevice dev;
  auto a = alloc(dev, 1000);
  auto b = alloc(dev, 1);
  auto c = alloc(dev, 0);
  EXPECT_NE(a.handle, b.handle);
  EXPECT_NE(b.handle, c.handle);
  EXPECT_EQ(a.nbytes, 1000u);
  EXPECT_EQ(b.nbytes, 1u);
  EXPECT_EQ(c.nbytes, 0u);
  EXPECT_EQ(a.host_ptr, nullptr);  // device memory: the host may not point into it
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.handle) % 256, 0u);  // CUDA-like alignment
  EXPECT_EQ(dev.bytes_allocated(), 1001u);
  EXPECT_EQ(dev.bytes_uploaded(), 0u);
  for (const auto& x : {a, b, c}) dev.free(x);
  EXPECT_EQ(dev.bytes_allocated(), 0u);
  EXPECT_FALSE(dev.caps().reads_host_memory);
  EXPECT_EQ(dev.caps().name, "sim");
}

TEST(SimDevice, AllocateHonoursLargerAlignments) {
  SimDevice dev;
  auto b = alloc(dev, 100);
  auto big = dev.allocate(100, 4096);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big->handle) % 4096, 0u);
  dev.free(b);
  dev.free(*big);
}

TEST(SimDevice, UploadsLandAtTheirOffsets) {
  SimDevice dev;
  const size_t n = 10000;
  auto h0 = alloc(dev, n);
  auto h1 = alloc(dev, n);
  auto src = pattern(n, 1);
  auto other = pattern(n, 2);
  // Out of order, uneven pieces, into two buffers.
  std::atomic<int> done{0};
  const size_t cuts[] = {0, 7, 4096, 4100, 9999, n};
  for (int k = 4; k >= 0; --k) {
    size_t from = cuts[k], len = cuts[k + 1] - cuts[k];
    put(dev, h0, from, src.data() + from, len, [&] { ++done; });
  }
  put(dev, h1, 0, other.data(), n, [&] { ++done; });
  idle(dev);
  EXPECT_EQ(done.load(), 6);
  std::vector<std::byte> back(n), back1(n);
  get(dev, h0, 0, back);
  get(dev, h1, 0, back1);
  EXPECT_EQ(back, src);
  EXPECT_EQ(back1, other);
  EXPECT_EQ(dev.bytes_uploaded(), 2 * n);
  EXPECT_GE(dev.upload_seconds(), 0.0);

  // A partial download at an offset.
  std::vector<std::byte> mid(100);
  get(dev, h0, 4050, mid);
  EXPECT_TRUE(std::equal(mid.begin(), mid.end(), src.begin() + 4050));
}

TEST(SimDevice, QueueIsFifoSoLaterUploadsWin) {
  SimDevice dev;
  auto h = alloc(dev, 64);
  auto a = pattern(64, 3), b = pattern(32, 4);
  put(dev, h, 0, a.data(), a.size(), nullptr);
  put(dev, h, 16, b.data(), b.size(), nullptr);
  idle(dev);
  std::vector<std::byte> back(64);
  get(dev, h, 0, back);
  std::vector<std::byte> want = a;
  std::copy(b.begin(), b.end(), want.begin() + 16);
  EXPECT_EQ(back, want);
}

TEST(SimDevice, DoneRunsOnTheQueueThreadAfterTheBytesAreIn) {
  SimDevice dev;
  const size_t n = 1 << 16;
  auto h = alloc(dev, n);
  auto src = pattern(n, 5);
  std::mutex mu;
  bool bytes_were_in = false;
  std::thread::id ran_on;
  put(dev, h, 0, src.data(), src.size(), [&] {
    std::vector<std::byte> seen(n);
    get(dev, h, 0, seen);
    std::lock_guard lock(mu);
    bytes_were_in = seen == src;
    ran_on = std::this_thread::get_id();
  });
  idle(dev);
  std::lock_guard lock(mu);
  EXPECT_TRUE(bytes_were_in);
  EXPECT_NE(ran_on, std::thread::id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(SimDevice, SynchronizeWaitsForEveryQueuedUpload) {
  SimDevice dev;
  constexpr int kJobs = 64;
  const size_t chunk = 256 << 10;
  auto h = alloc(dev, chunk * kJobs);
  auto src = pattern(chunk, 6);
  std::atomic<int> done{0};
  for (int k = 0; k < kJobs; ++k)
    put(dev, h, chunk * k, src.data(), src.size(), [&] {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow device
      ++done;
    });
  idle(dev);
  EXPECT_EQ(done.load(), kJobs);
  EXPECT_EQ(dev.bytes_uploaded(), chunk * kJobs);
  std::vector<std::byte> last(chunk);
  get(dev, h, chunk * (kJobs - 1), last);
  EXPECT_EQ(last, src);
  idle(dev);  // idle already: returns at once
}

TEST(SimDevice, ManyProducersAtOnce) {
  SimDevice dev;
  constexpr int kThreads = 6, kPieces = 50;
  const size_t piece = 1000;
  auto h = alloc(dev, piece * kPieces * kThreads);
  auto src = pattern(piece * kPieces * kThreads, 7);
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int p = 0; p < kPieces; ++p) {
        size_t off = (static_cast<size_t>(t) * kPieces + p) * piece;
        put(dev, h, off, src.data() + off, piece, [&] { ++done; });
      }
    });
  for (auto& t : ts) t.join();
  idle(dev);
  EXPECT_EQ(done.load(), kThreads * kPieces);
  std::vector<std::byte> back(src.size());
  get(dev, h, 0, back);
  EXPECT_EQ(back, src);
}

TEST(SimDevice, DestructorDrainsTheQueue) {
  std::atomic<int> done{0};
  auto src = pattern(1 << 20, 8);
  {
    SimDevice dev;
    auto h = alloc(dev, src.size());
    for (int k = 0; k < 16; ++k)
      put(dev, h, 0, src.data(), src.size(), [&] { ++done; });
  }
  EXPECT_EQ(done.load(), 16);
}

}  // namespace
}  // namespace wm
