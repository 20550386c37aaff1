#include "device/sim_device.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

namespace wm {

SimDevice::SimDevice() : thread_([this] { serve(); }) {}

SimDevice::~SimDevice() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
  free_all();
}

SimDevice::Handle SimDevice::allocate(uint64_t nbytes) {
  void* p = std::aligned_alloc(256, std::max<uint64_t>(256, (nbytes + 255) / 256 * 256));
  if (!p) throw std::bad_alloc();
  std::lock_guard lock(mu_);
  buffers_.emplace_back(static_cast<std::byte*>(p), nbytes);
  allocated_ += nbytes;
  return static_cast<Handle>(buffers_.size() - 1);
}

uint64_t SimDevice::size(Handle h) const {
  std::lock_guard lock(mu_);
  return buffers_.at(h).second;
}

void SimDevice::upload(Handle h, uint64_t offset, std::span<const std::byte> src, std::function<void()> done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({h, offset, src, std::move(done)});
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
    std::byte* dst = buffers_.at(job.h).first + job.offset;
    lock.unlock();
    auto t0 = std::chrono::steady_clock::now();
    if (!job.src.empty()) std::memcpy(dst, job.src.data(), job.src.size());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (job.done) job.done();
    lock.lock();
    uploaded_ += job.src.size();
    upload_seconds_ += secs;
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

void SimDevice::wait_idle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void SimDevice::download(Handle h, uint64_t offset, std::span<std::byte> dst) const {
  if (dst.empty()) return;  // memcpy from/to null is undefined even for 0 bytes
  std::lock_guard lock(mu_);
  std::memcpy(dst.data(), buffers_.at(h).first + offset, dst.size());
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

void SimDevice::free_all() {
  std::lock_guard lock(mu_);
  for (auto& [p, n] : buffers_) std::free(p);
  buffers_.clear();
  allocated_ = 0;
}

}  // namespace wm
