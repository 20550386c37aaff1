// wm::Device over a ggml backend buffer type: one backend buffer per tensor,
// written through a raw byte tensor that spans the buffer (ggml's copy calls
// take a tensor, not an address): ggml_backend_tensor_set, or asynchronous
// copies on a backend (async_uploads.h).
#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "async_uploads.h"
#include "ggml_device.h"
#include "weightmap/ggml.hpp"

namespace wm::ggml {
namespace {

// Backends may pad a tensor past ggml_nbytes (CUDA pads quantised rows to
// 512 elements: at most 512 F32 values' worth). allocate() does not know the
// tensor, so every buffer gets this much room; Weights checks the backend's
// real need (ggml_backend_buffer_get_alloc_size) before placing a tensor.
constexpr uint64_t kPaddingRoom = 2048;

// Any page size there is (4 KiB x86-64, 16 or 64 KiB arm64).
constexpr uintptr_t kStagingAlignment = 64 << 10;

// One allocation: the backend buffer, and a context holding the one I8
// tensor over all of it that uploads and downloads go through.
struct Allocation {
  ggml_backend_buffer_t buffer = nullptr;
  ggml_context* ctx = nullptr;
  ggml_tensor* raw = nullptr;
};

Error device_error(const std::string& device, std::string message, ErrorCode code = ErrorCode::kDevice) {
  return Error{{}, {}, {}, "ggml device '" + device + "': " + std::move(message), code};
}

class GgmlDevice final : public Device {
 public:
  GgmlDevice(ggml_backend_buffer_type_t type, std::string name, const DeviceOptions& options)
      : type_(type), staging_type_(options.staging_type) {
    caps_.name = std::move(name);
    async_ = AsyncUploads::make(options.backend, type, caps_.name, options.log);
    host_ = ggml_backend_buft_is_host(type);
    caps_.reads_host_memory = host_;
    caps_.alignment = static_cast<uint32_t>(ggml_backend_buft_get_alignment(type));
    for (int d = 0; d < static_cast<int>(DType::kCount); ++d) {
      if (type_of(static_cast<DType>(d))) caps_.dtypes.push_back(static_cast<DType>(d));
    }
  }

  const DeviceCaps& caps() const override { return caps_; }

  Result<DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) override {
    if (alignment == 0 || caps_.alignment % alignment != 0) {  // buffers start at the type's alignment
      return device_error(caps_.name, "cannot align a buffer to " + std::to_string(alignment) + " bytes (" +
                                          ggml_backend_buft_name(type_) + " aligns to " +
                                          std::to_string(caps_.alignment) + ")",
                          ErrorCode::kUnsupported);
    }
    const uint64_t size = nbytes + kPaddingRoom;
    if (size > ggml_backend_buft_get_max_size(type_)) {
      return device_error(caps_.name, std::to_string(nbytes) + " bytes exceed the largest buffer of " +
                                          ggml_backend_buft_name(type_),
                          ErrorCode::kOutOfMemory);
    }
    auto* a = new Allocation;
    a->buffer = ggml_backend_buft_alloc_buffer(type_, size);
    if (a->buffer == nullptr) {
      delete a;
      return device_error(caps_.name, std::string(ggml_backend_buft_name(type_)) + " could not allocate " +
                                          std::to_string(size) + " bytes",
                          ErrorCode::kOutOfMemory);
    }
    ggml_backend_buffer_set_usage(a->buffer, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    ggml_init_params params{ggml_tensor_overhead(), nullptr, true};
    a->ctx = ggml_init(params);
    if (a->ctx != nullptr) a->raw = ggml_new_tensor_1d(a->ctx, GGML_TYPE_I8, static_cast<int64_t>(size));
    if (a->raw == nullptr ||
        ggml_backend_tensor_alloc(a->buffer, a->raw, ggml_backend_buffer_get_base(a->buffer)) != GGML_STATUS_SUCCESS) {
      release(a);
      return device_error(caps_.name, "could not set up a buffer of " + std::to_string(size) + " bytes");
    }
    DeviceBuffer out;
    out.handle = a;
    out.id = next_id_.fetch_add(1);
    out.nbytes = nbytes;
    if (host_) out.host_ptr = static_cast<std::byte*>(ggml_backend_buffer_get_base(a->buffer));
    return out;
  }

  void free(const DeviceBuffer& buffer) override { release(static_cast<Allocation*>(buffer.handle)); }

  // Several loader threads call this at once. Synchronous:
  // ggml_backend_tensor_set on distinct buffers is safe for that, and
  // returns once `src` is copied.
  void upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
              UploadDone done) override {
    auto* a = static_cast<Allocation*>(buffer.handle);
    if (async_) return async_->submit(a->raw, offset, src, n, std::move(done));
    ggml_backend_tensor_set(a->raw, src, offset, n);
    done(Status{});
  }

  Status synchronize() override {
    if (async_) async_->wait_all();
    return Status{};
  }

  Status download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) override {
    if (offset + n > buffer.nbytes) {
      return device_error(caps_.name, "download of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                                          " runs past a buffer of " + std::to_string(buffer.nbytes),
                          ErrorCode::kInvalidArgument);
    }
    if (async_) async_->wait_all();  // reads after every upload so far
    ggml_backend_tensor_get(static_cast<Allocation*>(buffer.handle)->raw, dst, offset, n);
    return Status{};
  }

  // Staging from the backend's host buffer type (pinned memory for a GPU:
  // faster copies, and what its asynchronous copies need).
  std::byte* allocate_staging(uint64_t nbytes) override {
    if (staging_type_ == nullptr) return nullptr;
    // Slots must be page-aligned (O_DIRECT reads land in them); a host
    // buffer type promises less (the CPU's: 64 bytes), so round up within.
    ggml_backend_buffer_t b = ggml_backend_buft_alloc_buffer(staging_type_, nbytes + kStagingAlignment);
    if (b == nullptr) return nullptr;  // the loader falls back to ordinary memory and logs it
    const auto base = reinterpret_cast<uintptr_t>(ggml_backend_buffer_get_base(b));
    auto* p = reinterpret_cast<std::byte*>((base + kStagingAlignment - 1) & ~(kStagingAlignment - 1));
    std::lock_guard<std::mutex> lock(staging_mutex_);
    staging_[p] = b;
    return p;
  }

  void free_staging(std::byte* p, uint64_t) override {
    ggml_backend_buffer_t b = nullptr;
    {
      std::lock_guard<std::mutex> lock(staging_mutex_);
      auto it = staging_.find(p);
      if (it == staging_.end()) return;
      b = it->second;
      staging_.erase(it);
    }
    ggml_backend_buffer_free(b);
  }

  ggml_backend_buffer_t backend_buffer(const DeviceBuffer& buffer) const {
    return static_cast<const Allocation*>(buffer.handle)->buffer;
  }

 private:
  static void release(Allocation* a) {
    if (a == nullptr) return;
    if (a->ctx != nullptr) ggml_free(a->ctx);
    if (a->buffer != nullptr) ggml_backend_buffer_free(a->buffer);
    delete a;
  }

  ggml_backend_buffer_type_t type_;
  ggml_backend_buffer_type_t staging_type_;
  std::mutex staging_mutex_;
  std::map<std::byte*, ggml_backend_buffer_t> staging_;
  bool host_ = false;
  DeviceCaps caps_;
  std::atomic<uint64_t> next_id_{1};
  std::unique_ptr<AsyncUploads> async_;  // null: synchronous uploads
};

}  // namespace

std::shared_ptr<Device> make_device(ggml_backend_buffer_type_t buffer_type, std::string name,
                                    const DeviceOptions& options) {
  return std::make_shared<GgmlDevice>(buffer_type, std::move(name), options);
}

ggml_backend_buffer_t backend_buffer_of(const Device& device, const DeviceBuffer& buffer) {
  const auto* ours = dynamic_cast<const GgmlDevice*>(&device);
  return ours != nullptr && buffer.handle != nullptr ? ours->backend_buffer(buffer) : nullptr;
}

}  // namespace wm::ggml
