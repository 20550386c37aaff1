// wm::Device over a C struct of function pointers. The C side reports
// failures as a wm_status (and, for uploads, a message); this side turns
// them into wm::Errors naming the device.
#include "capi/device_adapter.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "capi/capi.h"

namespace wm::capi {
namespace {

Error device_error(const std::string& device, const char* what, wm_status status, const char* message) {
  Error e;
  e.code = status == WM_OK ? ErrorCode::kDevice : to_error_code(status);
  e.message = fmt::format("device '{}': {} failed ({}){}{}", device, what, wm_status_name(status),
                          message && *message ? ": " : "", message ? message : "");
  return e;
}

// The UploadDone of one upload, travelling through C as a void*; the C
// device calls the trampoline exactly once, which frees it.
struct PendingUpload {
  UploadDone done;
  std::string device;
};

void upload_finished(void* context, wm_status status, const char* message) {
  std::unique_ptr<PendingUpload> pending(static_cast<PendingUpload*>(context));
  try {  // this runs inside the C device's code: nothing may escape
    if (status == WM_OK)
      pending->done(Status{});
    else
      pending->done(device_error(pending->device, "upload", status, message));
  } catch (...) {
  }
}

DeviceBuffer to_cpp(const wm_device_buffer& b) {
  return DeviceBuffer{b.handle, b.id, static_cast<std::byte*>(b.host_ptr), b.nbytes};
}
wm_device_buffer to_c(const DeviceBuffer& b) { return wm_device_buffer{b.handle, b.id, b.host_ptr, b.nbytes}; }

class CDevice final : public Device {
 public:
  CDevice(const wm_device& d, DeviceCaps caps) : d_(d), caps_(std::move(caps)) {}
  ~CDevice() override {
    if (d_.release) d_.release(d_.user_data);
  }
  CDevice(const CDevice&) = delete;
  CDevice& operator=(const CDevice&) = delete;

  const DeviceCaps& caps() const override { return caps_; }

  Result<DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) override {
    wm_device_buffer out{};
    wm_status s = d_.allocate(d_.user_data, nbytes, alignment, &out);
    if (s != WM_OK) return device_error(caps_.name, fmt::format("allocating {} bytes", nbytes).c_str(), s, nullptr);
    if (!out.handle && !out.host_ptr)
      return device_error(caps_.name, "allocate", WM_ERR_DEVICE, "it returned WM_OK with no handle and no host_ptr");
    if (out.nbytes == 0) out.nbytes = nbytes;
    return to_cpp(out);
  }

  void free(const DeviceBuffer& buffer) override {
    wm_device_buffer b = to_c(buffer);
    d_.free(d_.user_data, &b);
  }

  void upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
              UploadDone done) override {
    wm_device_buffer b = to_c(buffer);
    auto* pending = new PendingUpload{std::move(done), caps_.name};
    d_.upload(d_.user_data, &b, offset, src, n, upload_finished, pending);
  }

  Status synchronize() override {
    wm_status s = d_.synchronize(d_.user_data);
    if (s != WM_OK) return device_error(caps_.name, "synchronize", s, nullptr);
    return {};
  }

  Status download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) override {
    wm_device_buffer b = to_c(buffer);
    wm_status s = d_.download(d_.user_data, &b, offset, dst, n);
    if (s != WM_OK) return device_error(caps_.name, "download", s, nullptr);
    return {};
  }

  std::byte* allocate_staging(uint64_t nbytes) override {
    if (!d_.allocate_staging) return Device::allocate_staging(nbytes);
    return static_cast<std::byte*>(d_.allocate_staging(d_.user_data, nbytes));
  }
  void free_staging(std::byte* p, uint64_t nbytes) override {
    if (!d_.free_staging) return Device::free_staging(p, nbytes);
    d_.free_staging(d_.user_data, p, nbytes);
  }

  bool converts(DType from, DType to) const override {
    if (!d_.converts || !d_.upload_converted) return Device::converts(from, to);
    return d_.converts(d_.user_data, static_cast<wm_dtype>(from), static_cast<wm_dtype>(to)) != 0;
  }
  void upload_converted(const DeviceBuffer& buffer, uint64_t dst_offset, const std::byte* src, uint64_t n,
                        DType from, DType to, uint64_t elements, UploadDone done) override {
    if (!d_.upload_converted)
      return Device::upload_converted(buffer, dst_offset, src, n, from, to, elements, std::move(done));
    wm_device_buffer b = to_c(buffer);
    auto* pending = new PendingUpload{std::move(done), caps_.name};
    d_.upload_converted(d_.user_data, &b, dst_offset, src, n, static_cast<wm_dtype>(from), static_cast<wm_dtype>(to),
                        elements, upload_finished, pending);
  }

 private:
  wm_device d_;
  DeviceCaps caps_;
};

Error invalid(size_t index, const std::string& what) {
  Error e;
  e.code = ErrorCode::kInvalidArgument;
  e.message = fmt::format("wm_options.devices[{}]: {}", index, what);
  return e;
}

}  // namespace

Result<std::shared_ptr<Device>> make_c_device(const wm_device* device, size_t index) {
  if (!device) return invalid(index, "is NULL");
  wm_device d{};
  size_t size = 0;
  std::memcpy(&size, device, sizeof size);
  if (size < sizeof(size_t) || size > sizeof(wm_device))
    return invalid(index, fmt::format("struct_size {} is not in [{}, {}]", size, sizeof(size_t), sizeof(wm_device)));
  std::memcpy(static_cast<void*>(&d), device, size);
  if (!d.name || !*d.name) return invalid(index, "has no name");
  if (!d.allocate || !d.free || !d.upload || !d.synchronize || !d.download)
    return invalid(index, fmt::format("device '{}' lacks a required callback (allocate, free, upload, synchronize, "
                                      "download)", d.name));
  if (!!d.converts != !!d.upload_converted)
    return invalid(index, fmt::format("device '{}': converts and upload_converted go together", d.name));
  if (!!d.allocate_staging != !!d.free_staging)
    return invalid(index, fmt::format("device '{}': allocate_staging and free_staging go together", d.name));
  DeviceCaps caps;
  caps.name = d.name;
  caps.reads_host_memory = d.reads_host_memory != 0;
  caps.alignment = d.alignment == 0 ? 1 : d.alignment;
  if (d.n_dtypes > 0 && !d.dtypes) return invalid(index, fmt::format("device '{}': dtypes is NULL", d.name));
  for (size_t i = 0; i < d.n_dtypes; ++i) {
    if (d.dtypes[i] < 0 || d.dtypes[i] >= WM_DTYPE_COUNT)
      return invalid(index, fmt::format("device '{}': dtypes[{}] = {} is not a wm_dtype", d.name, i,
                                        static_cast<int>(d.dtypes[i])));
    caps.dtypes.push_back(static_cast<DType>(d.dtypes[i]));
  }
  d.name = nullptr;  // copied into caps; the caller's string need not outlive open
  d.dtypes = nullptr;
  return std::shared_ptr<Device>(std::make_shared<CDevice>(d, std::move(caps)));
}

}  // namespace wm::capi
