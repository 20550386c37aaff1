// The one staging budget every copy-path worker shares: a fixed number of
// fixed-size slots carved from `budget` bytes. A worker holds a slot while it
// reads (and converts, and waits for the upload of) one chunk; when all slots
// are taken, the next worker waits. Peak staging memory is therefore at most
// the budget, whatever the largest tensor or the number of workers.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <memory>
#include <mutex>
#include <vector>

namespace wm {

class StagingPool {
 public:
  // Where slots come from when not from the heap: memory a device uploads
  // from fastest (pinned host memory for a GPU, wm::Device::allocate_staging).
  // `alloc` may return nullptr (or memory not page-aligned, which is given
  // back): that slot then comes from the heap.
  struct SlotMemory {
    std::function<std::byte*(uint64_t bytes)> alloc;
    std::function<void(std::byte*, uint64_t bytes)> free;
  };

  // REQUIRES: slot_bytes > 0, budget_bytes >= slot_bytes.
  StagingPool(uint64_t budget_bytes, uint64_t slot_bytes, SlotMemory memory = {});
  ~StagingPool();
  StagingPool(const StagingPool&) = delete;
  StagingPool& operator=(const StagingPool&) = delete;

  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : pool_(o.pool_), data_(o.data_) { o.pool_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    std::byte* data() const { return data_; }
    void release();

   private:
    friend class StagingPool;
    Slot(StagingPool* pool, std::byte* data) : pool_(pool), data_(data) {}
    StagingPool* pool_ = nullptr;
    std::byte* data_ = nullptr;
  };

  // Blocks until a slot is free. Slots are allocated on first use (page
  // aligned, so O_DIRECT can read into them) and kept until the pool dies.
  Slot acquire();

  uint64_t slot_bytes() const { return slot_bytes_; }
  uint64_t budget_bytes() const { return slot_bytes_ * max_slots_; }
  // Most bytes of slots allocated at once.
  uint64_t peak_bytes() const;
  // Slots that came from SlotMemory (the rest from the heap).
  size_t device_slots() const;

 private:
  void give_back(std::byte* data);

  const uint64_t slot_bytes_;
  const size_t max_slots_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  const SlotMemory memory_;
  std::vector<std::byte*> free_;
  std::vector<std::pair<std::byte*, bool>> all_;  // slot, from SlotMemory
};

}  // namespace wm
