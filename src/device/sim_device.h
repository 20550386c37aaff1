// `sim`: an in-process stand-in for a discrete accelerator, so the
// non-mapped path is exercised on machines without one. It has its own
// memory (buffers the host may not point into: DeviceBuffer::host_ptr is
// null), takes no host pointers, and receives data through a copy queue
// served by its own thread, so uploads overlap with the loader's next reads
// as a real DMA engine's would.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "device/device_caps.h"
#include "weightmap/device.hpp"

namespace wm {

class SimDevice final : public Device {
 public:
  SimDevice();
  ~SimDevice() override;
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;

  const DeviceCaps& caps() const override { return caps_; }
  // 256-byte aligned at least, like CUDA allocations.
  Result<DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) override;
  void free(const DeviceBuffer& buffer) override;
  // Queued; `done` runs on the queue's thread once the bytes are in.
  void upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
              UploadDone done) override;
  Status synchronize() override;
  Status download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) override;

  // LoRA in its own memory, with the cuda kernel's arithmetic
  // (device/cuda/lora_math.h), so the loader's device path runs without a GPU.
  bool patches(DType dtype) const override;
  Status add_low_rank(const DeviceBuffer& buffer, DType dtype, uint64_t rows, uint64_t cols, const LoraTerm* terms,
                      size_t n_terms) override;

  uint64_t bytes_allocated() const;  // live buffers
  uint64_t bytes_uploaded() const;
  double upload_seconds() const;     // copy time on the queue's thread

 private:
  struct Job {
    std::byte* dst;
    const std::byte* src;
    uint64_t n;
    UploadDone done;
  };
  void serve();

  DeviceCaps caps_;
  mutable std::mutex mu_;
  std::condition_variable work_, idle_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::unordered_set<void*> live_;  // buffers not yet freed: the destructor frees them
  uint64_t allocated_ = 0, uploaded_ = 0;
  double upload_seconds_ = 0;
  std::once_flag started_;
  std::thread thread_;  // the copy queue's, started by the first upload
};

}  // namespace wm
