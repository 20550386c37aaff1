// The `sim` device: its own buffers, uploads through a copy queue thread,
// done callbacks, wait_idle, download for verification.
#include <gtest/gtest.h>

#include <atomic>
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

TEST(SimDevice, AllocateTracksSizesAndBytes) {
  SimDevice dev;
  auto a = dev.allocate(1000);
  auto b = dev.allocate(1);
  auto c = dev.allocate(0);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_EQ(dev.size(a), 1000u);
  EXPECT_EQ(dev.size(b), 1u);
  EXPECT_EQ(dev.size(c), 0u);
  EXPECT_EQ(dev.bytes_allocated(), 1001u);
  EXPECT_EQ(dev.bytes_uploaded(), 0u);
  dev.free_all();
  EXPECT_EQ(dev.bytes_allocated(), 0u);
}

TEST(SimDevice, UploadsLandAtTheirOffsets) {
  SimDevice dev;
  const size_t n = 10000;
  auto h0 = dev.allocate(n);
  auto h1 = dev.allocate(n);
  auto src = pattern(n, 1);
  auto other = pattern(n, 2);
  // Out of order, uneven pieces, into two buffers.
  std::atomic<int> done{0};
  const size_t cuts[] = {0, 7, 4096, 4100, 9999, n};
  for (int k = 4; k >= 0; --k) {
    size_t from = cuts[k], len = cuts[k + 1] - cuts[k];
    dev.upload(h0, from, {src.data() + from, len}, [&] { ++done; });
  }
  dev.upload(h1, 0, {other.data(), n}, [&] { ++done; });
  dev.wait_idle();
  EXPECT_EQ(done.load(), 6);
  std::vector<std::byte> back(n), back1(n);
  dev.download(h0, 0, back);
  dev.download(h1, 0, back1);
  EXPECT_EQ(back, src);
  EXPECT_EQ(back1, other);
  EXPECT_EQ(dev.bytes_uploaded(), 2 * n);
  EXPECT_GE(dev.upload_seconds(), 0.0);

  // A partial download at an offset.
  std::vector<std::byte> mid(100);
  dev.download(h0, 4050, mid);
  EXPECT_TRUE(std::equal(mid.begin(), mid.end(), src.begin() + 4050));
}

TEST(SimDevice, QueueIsFifoSoLaterUploadsWin) {
  SimDevice dev;
  auto h = dev.allocate(64);
  auto a = pattern(64, 3), b = pattern(32, 4);
  dev.upload(h, 0, a, nullptr);
  dev.upload(h, 16, b, nullptr);
  dev.wait_idle();
  std::vector<std::byte> back(64);
  dev.download(h, 0, back);
  std::vector<std::byte> want = a;
  std::copy(b.begin(), b.end(), want.begin() + 16);
  EXPECT_EQ(back, want);
}

TEST(SimDevice, DoneRunsOnTheQueueThreadAfterTheBytesAreIn) {
  SimDevice dev;
  const size_t n = 1 << 16;
  auto h = dev.allocate(n);
  auto src = pattern(n, 5);
  std::mutex mu;
  bool bytes_were_in = false;
  std::thread::id ran_on;
  dev.upload(h, 0, src, [&] {
    std::vector<std::byte> seen(n);
    dev.download(h, 0, seen);
    std::lock_guard lock(mu);
    bytes_were_in = seen == src;
    ran_on = std::this_thread::get_id();
  });
  dev.wait_idle();
  std::lock_guard lock(mu);
  EXPECT_TRUE(bytes_were_in);
  EXPECT_NE(ran_on, std::thread::id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(SimDevice, WaitIdleWaitsForEveryQueuedUpload) {
  SimDevice dev;
  constexpr int kJobs = 64;
  const size_t chunk = 256 << 10;
  auto h = dev.allocate(chunk * kJobs);
  auto src = pattern(chunk, 6);
  std::atomic<int> done{0};
  for (int k = 0; k < kJobs; ++k)
    dev.upload(h, chunk * k, src, [&] {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow device
      ++done;
    });
  dev.wait_idle();
  EXPECT_EQ(done.load(), kJobs);
  EXPECT_EQ(dev.bytes_uploaded(), chunk * kJobs);
  std::vector<std::byte> last(chunk);
  dev.download(h, chunk * (kJobs - 1), last);
  EXPECT_EQ(last, src);
  dev.wait_idle();  // idle already: returns at once
}

TEST(SimDevice, ManyProducersAtOnce) {
  SimDevice dev;
  constexpr int kThreads = 6, kPieces = 50;
  const size_t piece = 1000;
  auto h = dev.allocate(piece * kPieces * kThreads);
  auto src = pattern(piece * kPieces * kThreads, 7);
  std::atomic<int> done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int p = 0; p < kPieces; ++p) {
        size_t off = (static_cast<size_t>(t) * kPieces + p) * piece;
        dev.upload(h, off, {src.data() + off, piece}, [&] { ++done; });
      }
    });
  for (auto& t : ts) t.join();
  dev.wait_idle();
  EXPECT_EQ(done.load(), kThreads * kPieces);
  std::vector<std::byte> back(src.size());
  dev.download(h, 0, back);
  EXPECT_EQ(back, src);
}

TEST(SimDevice, DestructorDrainsTheQueue) {
  std::atomic<int> done{0};
  auto src = pattern(1 << 20, 8);
  {
    SimDevice dev;
    auto h = dev.allocate(src.size());
    for (int k = 0; k < 16; ++k)
      dev.upload(h, 0, src, [&] { ++done; });
  }
  EXPECT_EQ(done.load(), 16);
}

}  // namespace
}  // namespace wm
