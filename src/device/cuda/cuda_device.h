// `cuda`: an NVIDIA GPU through the CUDA runtime (built with -DWM_CUDA=ON).
//
// - Device memory comes from a few large cudaMalloc blocks per device,
//   tensors sub-allocated from them (a block is freed when its last tensor
//   is), so a model costs a handful of allocations, not one per tensor.
// - Staging is pinned (cudaHostAlloc): the loader's reads land there and
//   go to the GPU by DMA with no further copy.
// - Uploads are cudaMemcpyAsync on kStreams streams, round robin, so one
//   stream's copy overlaps the next read; each upload records an event, and
//   a completion thread calls `done` once its event has passed (only then
//   may the staging slot be reused).
// - Conversion happens on the GPU: the file's bytes are uploaded into a
//   per-stream scratch buffer and a kernel (device/cuda/convert_kernels.h)
//   writes the target dtype, bit-identical to the CPU conversion.
// - A GPU that reads pageable host memory through the host's page tables
//   (Grace Hopper, ATS; not HMM alone, which migrates pages) reports
//   reads_host_memory: mapped tensors are then used in place, as on the CPU.
// - LoRA `immediately` runs in device memory (lora_kernel.h); offloaded
//   mapped tensors are registered for the GPU to read (register_host).
//
// Thread-safe: upload() from several loader threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weightmap/device.hpp"

namespace wm::cuda {

class CudaDevice final : public Device {
 public:
  static constexpr int kStreams = 4;
  // Fails with kDevice (no driver, no such device) naming why.
  static Result<std::shared_ptr<CudaDevice>> create(int ordinal);
  ~CudaDevice() override;
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  const DeviceCaps& caps() const override { return caps_; }

  // Sub-allocated; DeviceBuffer::handle is the device pointer.
  Result<DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) override;
  void free(const DeviceBuffer& buffer) override;
  void upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
              UploadDone done) override;
  Status synchronize() override;
  Status download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) override;

  std::byte* allocate_staging(uint64_t nbytes) override;  // pinned
  void free_staging(std::byte* p, uint64_t nbytes) override;

  bool converts(DType from, DType to) const override;
  void upload_converted(const DeviceBuffer& buffer, uint64_t dst_offset, const std::byte* src, uint64_t n,
                        DType from, DType to, uint64_t elements, UploadDone done) override;

  // Pins the range for the GPU to read in place over the bus
  // (cudaHostRegister, read-only, mapped); a kernel reads it through the
  // same pointer where the GPU can use host pointers for registered memory.
  Status register_host(const std::byte* p, uint64_t n) override;
  void unregister_host(const std::byte* p, uint64_t n) override;

  // LoRA on the GPU: the factors are uploaded, one kernel per tensor.
  bool patches(DType dtype) const override;
  Status add_low_rank(const DeviceBuffer& buffer, DType dtype, uint64_t rows, uint64_t cols, const LoraTerm* terms,
                      size_t n_terms) override;

 private:
  struct Block {
    std::byte* base = nullptr;
    uint64_t size = 0, used = 0;
    uint64_t live = 0;  // sub-allocations not yet freed
  };
  struct Stream {
    void* handle = nullptr;  // cudaStream_t
    std::mutex mu;           // one upload's copy and kernel at a time (they share `scratch`)
    std::byte* scratch = nullptr;
    uint64_t scratch_bytes = 0;
  };
  struct Pending {
    void* event;  // cudaEvent_t
    UploadDone done;
    std::string what;
  };

  CudaDevice(int ordinal, DeviceCaps caps);
  Status init_streams();
  Stream& next_stream() { return streams_[next_.fetch_add(1, std::memory_order_relaxed) % kStreams]; }
  // Records an event on `stream` and hands `done` to the completion thread.
  void complete_after(Stream& stream, UploadDone done, std::string what);
  void serve_completions();
  void fail(UploadDone& done, Error e);

  int ordinal_;
  DeviceCaps caps_;
  Stream streams_[kStreams];
  void* download_stream_ = nullptr;
  std::atomic<uint64_t> next_{0};

  mutable std::mutex blocks_mu_;
  std::vector<Block> blocks_;  // index = DeviceBuffer::id

  std::mutex done_mu_;
  std::condition_variable work_, idle_;
  std::deque<Pending> pending_;
  bool busy_ = false, stop_ = false;
  Status first_failure_;  // since the last synchronize()
  std::thread completions_;
};

}  // namespace wm::cuda
