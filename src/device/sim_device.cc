#include "device/sim_device.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "device/cuda/lora_math.h"
#include "io/fault_injection.h"

namespace wm {

SimDevice::SimDevice() : caps_(sim_device_caps()) {}

SimDevice::~SimDevice() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();  // drains the queue first
  for (void* p : live_) sys::aligned_free(p);
}

Result<DeviceBuffer> SimDevice::allocate(uint64_t nbytes, uint32_t alignment) {
  const uint64_t align = std::max<uint64_t>(256, alignment);
  void* p = sys::native_aligned_alloc(align, std::max<uint64_t>(align, (nbytes + align - 1) / align * align));
  if (!p)
    return Error{{}, {}, {}, fmt::format("sim device: out of memory allocating {} bytes", nbytes),
                 ErrorCode::kOutOfMemory};
  std::lock_guard lock(mu_);
  live_.insert(p);
  allocated_ += nbytes;
  return DeviceBuffer{p, 0, nullptr, nbytes};
}

void SimDevice::free(const DeviceBuffer& buffer) {
  std::lock_guard lock(mu_);
  if (live_.erase(buffer.handle) == 0) return;  // not ours, or freed already
  sys::aligned_free(buffer.handle);
  allocated_ -= std::min(allocated_, buffer.nbytes);
}

void SimDevice::upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
                       UploadDone done) {
  std::call_once(started_, [this] { thread_ = std::thread([this] { serve(); }); });
  {
    std::lock_guard lock(mu_);
    queue_.push_back({static_cast<std::byte*>(buffer.handle) + offset, src, n, std::move(done)});
  }
  work_.notify_one();
}

void SimDevice::serve() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ with nothing left
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    auto t0 = std::chrono::steady_clock::now();
    if (job.n) std::memcpy(job.dst, job.src, job.n);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (job.done) job.done(Status());
    lock.lock();
    uploaded_ += job.n;
    upload_seconds_ += secs;
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

Status SimDevice::synchronize() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  return {};
}

Status SimDevice::download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) {
  if (n) std::memcpy(dst, static_cast<const std::byte*>(buffer.handle) + offset, n);
  return {};
}

bool SimDevice::patches(DType dtype) const { return cuda::low_rank_patchable(dtype); }

Status SimDevice::add_low_rank(const DeviceBuffer& buffer, DType dtype, uint64_t rows, uint64_t cols,
                               const LoraTerm* terms, size_t n_terms) {
  if (Status s = synchronize(); !s) return s;  // after every upload into it
  std::vector<cuda::LowRankView> views;
  for (size_t n = 0; n < n_terms; ++n)
    views.push_back({terms[n].up.data(), terms[n].down.data(), terms[n].rank, terms[n].scale});
  auto* w = static_cast<uint8_t*>(buffer.handle);
  for (uint64_t i = 0; i < rows; ++i)
    for (uint64_t j = 0; j < cols; ++j)
      cuda::patch_element(dtype, w, i, j, cols, views.data(), static_cast<uint32_t>(views.size()));
  return {};
}

uint64_t SimDevice::bytes_allocated() const {
  std::lock_guard lock(mu_);
  return allocated_;
}
uint64_t SimDevice::bytes_uploaded() const {
  std::lock_guard lock(mu_);
  return uploaded_;
}
double SimDevice::upload_seconds() const {
  std::lock_guard lock(mu_);
  return upload_seconds_;
}

}  // namespace wm
