// `cpu`: the host. Reads host memory in place (mapped tensors need no copy);
// its buffers are host memory the loader writes directly, so uploads are
// plain copies that finish at once.
//
// Thread-safe: it holds no state.
#pragma once

#include "device/device_caps.h"
#include "weightmap/device.hpp"

namespace wm {

class CpuDevice final : public Device {
 public:
  CpuDevice() : caps_(cpu_device_caps()) {}
  const DeviceCaps& caps() const override { return caps_; }
  Result<DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) override;
  void free(const DeviceBuffer& buffer) override;
  void upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
              UploadDone done) override;
  Status synchronize() override { return {}; }
  Status download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) override;

 private:
  DeviceCaps caps_;
};

}  // namespace wm
