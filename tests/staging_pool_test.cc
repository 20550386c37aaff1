// The shared staging budget: fixed page-aligned slots, never more bytes than
// the budget however many threads ask, blocking when all are taken.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "load/staging_pool.h"

namespace wm {
namespace {

using namespace std::chrono_literals;

TEST(StagingPool, SlotSizeIsRoundedUpToPagesAndBudgetToWholeSlots) {
  StagingPool pool(100000, 5000);
  EXPECT_EQ(pool.slot_bytes(), 8192u);
  EXPECT_EQ(pool.budget_bytes(), 12u * 8192);
  EXPECT_LE(pool.budget_bytes(), 100000u);
  EXPECT_EQ(pool.peak_bytes(), 0u);  // nothing allocated before first use

  StagingPool exact(4 * 4096, 4096);
  EXPECT_EQ(exact.slot_bytes(), 4096u);
  EXPECT_EQ(exact.budget_bytes(), 4u * 4096);
}

TEST(StagingPool, SlotsArePageAlignedAndWholeSlotIsWritable) {
  StagingPool pool(3 * 8192, 8192);
  std::vector<StagingPool::Slot> held;
  for (int k = 0; k < 3; ++k) {
    held.push_back(pool.acquire());
    std::byte* p = held.back().data();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
    std::memset(p, k + 1, pool.slot_bytes());  // the sanitizer build catches a short slot
  }
  // Distinct memory, not overlapping.
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b) {
      auto pa = reinterpret_cast<uintptr_t>(held[a].data()), pb = reinterpret_cast<uintptr_t>(held[b].data());
      EXPECT_TRUE(pa + pool.slot_bytes() <= pb || pb + pool.slot_bytes() <= pa);
    }
  EXPECT_EQ(pool.peak_bytes(), 3u * 8192);
}

TEST(StagingPool, SlotsAreReusedNotReallocated) {
  StagingPool pool(4 * 4096, 4096);
  std::byte* first = nullptr;
  for (int k = 0; k < 100; ++k) {
    StagingPool::Slot s = pool.acquire();
    if (!first) first = s.data();
    EXPECT_EQ(s.data(), first);
  }
  EXPECT_EQ(pool.peak_bytes(), 4096u);
}

TEST(StagingPool, AcquireBlocksUntilASlotIsReleased) {
  StagingPool pool(2 * 4096, 4096);
  StagingPool::Slot a = pool.acquire();
  StagingPool::Slot b = pool.acquire();
  std::byte* b_data = b.data();
  auto waiter = std::async(std::launch::async, [&] { return pool.acquire().data(); });
  EXPECT_EQ(waiter.wait_for(100ms), std::future_status::timeout) << "acquire did not wait for a free slot";
  b.release();
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(waiter.get(), b_data);
  EXPECT_EQ(pool.peak_bytes(), 2u * 4096);
}

TEST(StagingPool, MovedFromSlotDoesNotReleaseTwice) {
  StagingPool pool(4096, 4096);  // one slot
  {
    StagingPool::Slot a = pool.acquire();
    StagingPool::Slot b = std::move(a);
    a.release();  // moved from: nothing to give back
    b.release();
    b.release();  // twice: still only one give-back
  }
  StagingPool::Slot x = pool.acquire();
  // Were the slot given back twice, a second acquire would succeed at once
  // and two holders would share one buffer.
  auto second = std::async(std::launch::async, [&] { return pool.acquire().data(); });
  EXPECT_EQ(second.wait_for(100ms), std::future_status::timeout);
  x.release();
  ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
  second.get();
  EXPECT_EQ(pool.peak_bytes(), 4096u);
}

TEST(StagingPool, MoveAssignmentReleasesTheSlotItHeld) {
  StagingPool pool(2 * 4096, 4096);
  StagingPool::Slot a = pool.acquire();
  StagingPool::Slot b = pool.acquire();
  std::byte* old_a = a.data();
  a = std::move(b);  // a's first slot goes back to the pool
  StagingPool::Slot c = pool.acquire();  // must not block
  EXPECT_EQ(c.data(), old_a);
  EXPECT_EQ(pool.peak_bytes(), 2u * 4096);
}

TEST(StagingPool, ManyThreadsNeverExceedTheBudget) {
  constexpr int kThreads = 12, kRounds = 400;
  StagingPool pool(3 * 4096, 4096);
  std::atomic<int> in_use{0}, max_in_use{0};
  std::atomic<bool> shared_slot{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        StagingPool::Slot s = pool.acquire();
        int now = ++in_use;
        int prev = max_in_use.load();
        while (now > prev && !max_in_use.compare_exchange_weak(prev, now)) {
        }
        // Own the slot: fill it with our mark, let others run, check it is intact.
        auto mark = static_cast<std::byte>(t + 1);
        std::memset(s.data(), static_cast<int>(mark), pool.slot_bytes());
        if (r % 8 == 0) std::this_thread::yield();
        if (s.data()[0] != mark || s.data()[pool.slot_bytes() - 1] != mark) shared_slot = true;
        --in_use;
        if (r % 2) {
          s.release();
        }  // else the destructor releases it
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(shared_slot) << "two threads held the same slot";
  EXPECT_LE(max_in_use.load(), 3);
  EXPECT_GE(max_in_use.load(), 1);
  EXPECT_LE(pool.peak_bytes(), pool.budget_bytes());
  EXPECT_EQ(pool.budget_bytes(), 3u * 4096);
}

TEST(StagingPool, BudgetSmallerThanOneSlotStillGivesOneSlot) {
  StagingPool pool(100, 4096);
  EXPECT_EQ(pool.budget_bytes(), 4096u);
  StagingPool::Slot s = pool.acquire();
  EXPECT_NE(s.data(), nullptr);
}

}  // namespace
}  // namespace wm
