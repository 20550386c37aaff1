#include "load/staging_pool.h"

#include <cstdint>
#include <cstdlib>
#include <new>

#include "io/fault_injection.h"
#include "io/page_size.h"

namespace wm {

StagingPool::StagingPool(uint64_t budget_bytes, uint64_t slot_bytes, SlotMemory memory)
    : slot_bytes_((slot_bytes + page_size() - 1) / page_size() * page_size()),
      max_slots_(std::max<size_t>(1, static_cast<size_t>(budget_bytes / slot_bytes_))),
      memory_(std::move(memory)) {}

StagingPool::~StagingPool() {
  for (auto [p, from_memory] : all_) {
    if (from_memory) memory_.free(p, slot_bytes_);
    else sys::aligned_free(p);
  }
}

StagingPool::Slot& StagingPool::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = o.pool_;
    data_ = o.data_;
    o.pool_ = nullptr;
  }
  return *this;
}

void StagingPool::Slot::release() {
  if (pool_) pool_->give_back(data_);
  pool_ = nullptr;
}

StagingPool::Slot StagingPool::acquire() {
  std::unique_lock lock(mu_);
  freed_.wait(lock, [&] { return !free_.empty() || all_.size() < max_slots_; });
  if (free_.empty()) {
    std::byte* p = memory_.alloc ? memory_.alloc(slot_bytes_) : nullptr;
    if (p && reinterpret_cast<uintptr_t>(p) % page_size() != 0) {  // O_DIRECT reads into slots: page alignment is a must
      memory_.free(p, slot_bytes_);
      p = nullptr;
    }
    const bool from_memory = p != nullptr;
    if (!p) p = static_cast<std::byte*>(sys::native_aligned_alloc(page_size(), slot_bytes_));
    if (!p) throw std::bad_alloc();
    all_.emplace_back(p, from_memory);
    return Slot(this, p);
  }
  std::byte* p = free_.back();
  free_.pop_back();
  return Slot(this, p);
}

void StagingPool::give_back(std::byte* data) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(data);
  }
  freed_.notify_one();
}

size_t StagingPool::device_slots() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [p, from_memory] : all_) n += from_memory;
  return n;
}

uint64_t StagingPool::peak_bytes() const {
  std::lock_guard lock(mu_);
  return all_.size() * slot_bytes_;
}

}  // namespace wm
