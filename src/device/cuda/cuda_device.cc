#include "device/cuda/cuda_device.h"

#include <algorithm>
#include <cuda_runtime.h>
#include <fmt/format.h>

#include "device/cuda/convert_kernels.h"
#include "device/device_caps.h"
#include "device/cuda/lora_kernel.h"

namespace wm::cuda {
namespace {

constexpr uint64_t kMinBlock = 256ull << 20;  // first block; each next one doubles ...
constexpr uint64_t kMaxBlock = 2ull << 30;    // ... up to this (a larger tensor gets its own)
constexpr uint64_t kScratchRound = 1ull << 20;

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t as_event(void* e) { return static_cast<cudaEvent_t>(e); }

std::string describe(cudaError_t e) { return fmt::format("{}: {}", cudaGetErrorName(e), cudaGetErrorString(e)); }

Error device_error(const std::string& device, const std::string& what, cudaError_t e,
                   ErrorCode code = ErrorCode::kDevice) {
  return Error{{}, {}, {}, fmt::format("{}: {}: {}", device, what, describe(e)), code};
}

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

Result<std::shared_ptr<CudaDevice>> CudaDevice::create(int ordinal) {
  const std::string name = cuda_device_name(ordinal);
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it
    return device_error(name, "no usable CUDA device (driver or device missing)", e);
  }
  if (ordinal < 0 || ordinal >= count)
    return Error{{}, {}, {}, fmt::format("{}: no such device ({} CUDA device(s) visible)", name, count),
                 ErrorCode::kNotFound};
  if (cudaError_t e = cudaSetDevice(ordinal); e != cudaSuccess) return device_error(name, "cudaSetDevice", e);
  int host_tables = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&host_tables, cudaDevAttrPageableMemoryAccessUsesHostPageTables, ordinal);
      e != cudaSuccess)
    return device_error(name, "cudaDeviceGetAttribute(PageableMemoryAccessUsesHostPageTables)", e);

  // Reads host memory in place: pageable memory through the host's page
  // tables. 256 bytes: what cudaMalloc guarantees and what vectorised
  // kernels assume.
  DeviceCaps caps{name, host_tables != 0, 256, {}};
  std::shared_ptr<CudaDevice> d(new CudaDevice(ordinal, std::move(caps)));
  if (Status s = d->init_streams(); !s) return s.error();
  return d;
}

CudaDevice::CudaDevice(int ordinal, DeviceCaps caps) : ordinal_(ordinal), caps_(std::move(caps)) {}

Status CudaDevice::init_streams() {
  // Non-blocking: no implicit ordering with the legacy default stream.
  auto make = [&](void*& handle) -> Status {
    cudaStream_t h = nullptr;
    if (cudaError_t e = cudaStreamCreateWithFlags(&h, cudaStreamNonBlocking); e != cudaSuccess)
      return device_error(caps_.name, "cudaStreamCreate", e);
    handle = h;
    return {};
  };
  for (Stream& s : streams_)
    if (Status st = make(s.handle); !st) return st;
  if (Status st = make(download_stream_); !st) return st;
  completions_ = std::thread([this] { serve_completions(); });
  return {};
}

CudaDevice::~CudaDevice() {
  {
    std::lock_guard lock(done_mu_);
    stop_ = true;
  }
  work_.notify_all();
  if (completions_.joinable()) completions_.join();  // drains what is pending first
  cudaSetDevice(ordinal_);
  for (Stream& s : streams_) {
    if (s.scratch) cudaFree(s.scratch);
    if (s.handle) cudaStreamDestroy(as_stream(s.handle));
  }
  if (download_stream_) cudaStreamDestroy(as_stream(download_stream_));
  for (Block& b : blocks_)
    if (b.base) cudaFree(b.base);
}

// --- memory ------------------------------------------------------------------

Result<DeviceBuffer> CudaDevice::allocate(uint64_t nbytes, uint32_t alignment) {
  const uint64_t align = std::max<uint64_t>(256, alignment);
  const uint64_t need = round_up(std::max<uint64_t>(nbytes, 1), align);
  std::lock_guard lock(blocks_mu_);
  // The newest block first: tensors are allocated in file order, and a
  // model's tensors then sit together.
  for (size_t i = blocks_.size(); i-- > 0;) {
    Block& b = blocks_[i];
    if (!b.base) continue;
    const uint64_t at = round_up(b.used, align);
    if (at + need > b.size) continue;
    b.used = at + need;
    ++b.live;
    return DeviceBuffer{b.base + at, i, nullptr, nbytes};
  }
  cudaSetDevice(ordinal_);
  uint64_t grow = kMinBlock;
  for (const Block& b : blocks_) grow = std::min(kMaxBlock, std::max(grow, b.size * 2));
  // Never ask for more than is free: the last block of a model that nearly
  // fills the GPU is cut to fit instead of failing.
  size_t free_now = 0, total = 0;
  if (cudaMemGetInfo(&free_now, &total) == cudaSuccess) grow = std::min<uint64_t>(grow, free_now);
  const uint64_t size = round_up(std::max(need, grow), 2ull << 20);
  void* p = nullptr;
  uint64_t got = size;
  cudaError_t e = cudaMalloc(&p, size);
  if (e != cudaSuccess && size > need) {  // the rounding may not fit either
    cudaGetLastError();
    got = need;
    e = cudaMalloc(&p, need);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();  // out of memory is not sticky
    return Error{{}, {}, {},
                 fmt::format("{}: out of device memory allocating {} bytes ({} of {} bytes free): {}", caps_.name, nbytes,
                             free_now, total, describe(e)),
                 e == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kDevice};
  }
  blocks_.push_back({static_cast<std::byte*>(p), got, need, 1});
  return DeviceBuffer{p, blocks_.size() - 1, nullptr, nbytes};
}

void CudaDevice::free(const DeviceBuffer& buffer) {
  std::lock_guard lock(blocks_mu_);
  if (buffer.id >= blocks_.size()) return;  // not ours
  Block& b = blocks_[buffer.id];
  if (!b.base || b.live == 0) return;
  if (--b.live == 0) {
    cudaSetDevice(ordinal_);
    cudaFree(b.base);  // waits for the device: no upload into it is in flight (DeviceBuffers' contract)
    b = Block{};
  }
}

std::byte* CudaDevice::allocate_staging(uint64_t nbytes) {
  cudaSetDevice(ordinal_);
  void* p = nullptr;
  // Portable: pinned for every context, so any stream's copy from it is DMA.
  if (cudaHostAlloc(&p, nbytes, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;  // the pool falls back to pageable memory and reports how many slots are pinned
  }
  return static_cast<std::byte*>(p);
}

void CudaDevice::free_staging(std::byte* p, uint64_t) {
  if (p) cudaFreeHost(p);
}

Status CudaDevice::register_host(const std::byte* p, uint64_t n) {
  cudaSetDevice(ordinal_);
  int host_pointer = 0;
  cudaDeviceGetAttribute(&host_pointer, cudaDevAttrCanUseHostPointerForRegisteredMem, ordinal_);
  if (!host_pointer)
    return Error{{}, {}, {}, fmt::format("{} cannot use host pointers for registered memory", caps_.name),
                 ErrorCode::kDevice};
  // The mapping is read-only: ReadOnly lets the driver pin it without write access.
  const unsigned flags = cudaHostRegisterPortable | cudaHostRegisterMapped | cudaHostRegisterReadOnly;
  if (cudaError_t e = cudaHostRegister(const_cast<std::byte*>(p), n, flags); e != cudaSuccess) {
    cudaGetLastError();
    return device_error(caps_.name, fmt::format("cudaHostRegister of {} mapped bytes", n), e);
  }
  return {};
}

void CudaDevice::unregister_host(const std::byte* p, uint64_t) {
  cudaSetDevice(ordinal_);
  cudaHostUnregister(const_cast<std::byte*>(p));
}

// --- uploads -----------------------------------------------------------------

void CudaDevice::fail(UploadDone& done, Error e) {
  {
    std::lock_guard lock(done_mu_);
    if (first_failure_) first_failure_ = e;
  }
  if (done) done(std::move(e));
}

void CudaDevice::complete_after(Stream& stream, UploadDone done, std::string what) {
  cudaEvent_t ev = nullptr;
  // Blocking sync: the completion thread sleeps instead of spinning a core.
  if (cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming | cudaEventBlockingSync); e != cudaSuccess) {
    cudaStreamSynchronize(as_stream(stream.handle));  // the queued copy still reads its source: wait for it
    return fail(done, device_error(caps_.name, "cudaEventCreate", e));
  }
  if (cudaError_t e = cudaEventRecord(ev, as_stream(stream.handle)); e != cudaSuccess) {
    cudaEventDestroy(ev);
    // The copy is queued but cannot be tracked: wait for it here.
    cudaStreamSynchronize(as_stream(stream.handle));
    return fail(done, device_error(caps_.name, "cudaEventRecord", e));
  }
  {
    std::lock_guard lock(done_mu_);
    pending_.push_back({ev, std::move(done), std::move(what)});
  }
  work_.notify_one();
}

void CudaDevice::serve_completions() {
  cudaSetDevice(ordinal_);
  std::unique_lock lock(done_mu_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stop_ with nothing left
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    busy_ = true;
    lock.unlock();
    cudaError_t e = cudaEventSynchronize(as_event(p.event));
    cudaEventDestroy(as_event(p.event));
    Status s;
    if (e != cudaSuccess) s = device_error(caps_.name, p.what, e);
    if (p.done) p.done(s);
    lock.lock();
    if (!s && first_failure_) first_failure_ = s;
    busy_ = false;
    if (pending_.empty()) idle_.notify_all();
  }
}

void CudaDevice::upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
                        UploadDone done) {
  cudaSetDevice(ordinal_);
  Stream& s = next_stream();
  std::lock_guard lock(s.mu);
  std::string what = fmt::format("copying {} bytes to the device", n);
  if (cudaError_t e = cudaMemcpyAsync(static_cast<std::byte*>(buffer.handle) + offset, src, n, cudaMemcpyHostToDevice,
                                      as_stream(s.handle));
      e != cudaSuccess)
    return fail(done, device_error(caps_.name, what, e));
  complete_after(s, std::move(done), std::move(what));
}

bool CudaDevice::converts(DType from, DType to) const { return gpu_converts(from, to); }

void CudaDevice::upload_converted(const DeviceBuffer& buffer, uint64_t dst_offset, const std::byte* src, uint64_t n,
                                  DType from, DType to, uint64_t elements, UploadDone done) {
  cudaSetDevice(ordinal_);
  Stream& s = next_stream();
  std::lock_guard lock(s.mu);
  cudaStream_t stream = as_stream(s.handle);
  if (s.scratch_bytes < n) {  // grows to the staging slot size once, then stays
    cudaStreamSynchronize(stream);  // the old scratch may still be read by a kernel
    if (s.scratch) cudaFree(s.scratch);
    s.scratch = nullptr;
    s.scratch_bytes = 0;
    void* p = nullptr;
    const uint64_t size = round_up(n, kScratchRound);
    if (cudaError_t e = cudaMalloc(&p, size); e != cudaSuccess) {
      cudaGetLastError();
      return fail(done, device_error(caps_.name, fmt::format("allocating {} bytes of conversion scratch", size), e,
                                     ErrorCode::kOutOfMemory));
    }
    s.scratch = static_cast<std::byte*>(p);
    s.scratch_bytes = size;
  }
  const std::string what = fmt::format("converting {} bytes of {} to {} on the device", n, dtype_name(from), dtype_name(to));
  if (cudaError_t e = cudaMemcpyAsync(s.scratch, src, n, cudaMemcpyHostToDevice, stream); e != cudaSuccess)
    return fail(done, device_error(caps_.name, what, e));
  // Same stream: the kernel starts once the copy has landed.
  if (int e = launch_convert(from, to, s.scratch, static_cast<std::byte*>(buffer.handle) + dst_offset, elements, stream);
      e != 0) {
    cudaStreamSynchronize(stream);  // the copy already queued must finish before `src` is given back
    return fail(done, device_error(caps_.name, what, static_cast<cudaError_t>(e)));
  }
  complete_after(s, std::move(done), what);
}

bool CudaDevice::patches(DType dtype) const { return low_rank_patchable(dtype); }

Status CudaDevice::add_low_rank(const DeviceBuffer& buffer, DType dtype, uint64_t rows, uint64_t cols,
                                const LoraTerm* terms, size_t n_terms) {
  if (Status s = synchronize(); !s) return s;  // the tensor's own upload first
  // One device allocation: the views, then every term's up and down.
  uint64_t floats = 0;
  for (size_t n = 0; n < n_terms; ++n) floats += terms[n].up.size() + terms[n].down.size();
  const uint64_t views_bytes = round_up(n_terms * sizeof(LowRankView), 256);
  void* scratch = nullptr;
  if (cudaError_t e = cudaMalloc(&scratch, views_bytes + floats * sizeof(float)); e != cudaSuccess) {
    cudaGetLastError();
    return device_error(caps_.name, "allocating the LoRA factors", e, ErrorCode::kOutOfMemory);
  }
  auto* base = static_cast<std::byte*>(scratch);
  auto* factors = reinterpret_cast<float*>(base + views_bytes);
  std::vector<LowRankView> views;
  cudaError_t e = cudaSuccess;
  for (size_t n = 0; n < n_terms && e == cudaSuccess; ++n) {
    const LoraTerm& t = terms[n];
    float* up = factors;
    float* down = up + t.up.size();
    factors = down + t.down.size();
    e = cudaMemcpy(up, t.up.data(), t.up.size() * sizeof(float), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(down, t.down.data(), t.down.size() * sizeof(float), cudaMemcpyHostToDevice);
    views.push_back({up, down, t.rank, t.scale});
  }
  if (e == cudaSuccess) e = cudaMemcpy(base, views.data(), views.size() * sizeof(LowRankView), cudaMemcpyHostToDevice);
  cudaStream_t stream = as_stream(streams_[0].handle);
  if (e == cudaSuccess)
    e = static_cast<cudaError_t>(launch_low_rank(dtype, buffer.handle, rows, cols,
                                                 reinterpret_cast<const LowRankView*>(base),
                                                 static_cast<uint32_t>(views.size()), stream));
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
  cudaFree(scratch);
  if (e != cudaSuccess) return device_error(caps_.name, fmt::format("LoRA on a {} x {} tensor", rows, cols), e);
  return {};
}

Status CudaDevice::synchronize() {
  {
    std::unique_lock lock(done_mu_);
    idle_.wait(lock, [&] { return pending_.empty() && !busy_; });
  }
  cudaSetDevice(ordinal_);
  for (Stream& s : streams_)
    if (cudaError_t e = cudaStreamSynchronize(as_stream(s.handle)); e != cudaSuccess)
      return device_error(caps_.name, "synchronizing the upload streams", e);
  std::lock_guard lock(done_mu_);
  Status first = std::move(first_failure_);
  first_failure_ = Status();
  return first;
}

Status CudaDevice::download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) {
  cudaSetDevice(ordinal_);
  cudaStream_t ds = as_stream(download_stream_);
  // After every upload queued so far, without waiting for them on the host.
  for (Stream& s : streams_) {
    std::lock_guard lock(s.mu);
    cudaEvent_t ev = nullptr;
    cudaError_t e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    if (e == cudaSuccess) e = cudaEventRecord(ev, as_stream(s.handle));
    if (e == cudaSuccess) e = cudaStreamWaitEvent(ds, ev, 0);
    if (ev) cudaEventDestroy(ev);  // released once the wait has passed
    if (e != cudaSuccess) return device_error(caps_.name, "ordering a download after the uploads", e);
  }
  if (cudaError_t e = cudaMemcpyAsync(dst, static_cast<const std::byte*>(buffer.handle) + offset, n,
                                      cudaMemcpyDeviceToHost, ds);
      e != cudaSuccess)
    return device_error(caps_.name, fmt::format("copying {} bytes from the device", n), e);
  if (cudaError_t e = cudaStreamSynchronize(ds); e != cudaSuccess)
    return device_error(caps_.name, fmt::format("copying {} bytes from the device", n), e);
  return {};
}

}  // namespace wm::cuda
