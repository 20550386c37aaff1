#include "load/staging_pool.h"

#include <cstdlib>
#include <new>

namespace wm {

StagingPool::StagingPool(uint64_t budget_bytes, uint64_t slot_bytes)
    : slot_bytes_((slot_bytes + 4095) / 4096 * 4096),
      max_slots_(std::max<size_t>(1, static_cast<size_t>(budget_bytes / ((slot_bytes + 4095) / 4096 * 4096)))) {}

StagingPool::~StagingPool() {
  for (std::byte* p : all_) std::free(p);
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
    void* p = std::aligned_alloc(4096, slot_bytes_);
    if (!p) throw std::bad_alloc();
    all_.push_back(static_cast<std::byte*>(p));
    return Slot(this, all_.back());
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

uint64_t StagingPool::peak_bytes() const {
  std::lock_guard lock(mu_);
  return all_.size() * slot_bytes_;
}

}  // namespace wm
