#include "device/cpu_device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "io/fault_injection.h"

namespace wm {

Result<DeviceBuffer> CpuDevice::allocate(uint64_t nbytes, uint32_t alignment) {
  // At least a cache line; aligned_alloc wants a size that is a multiple of it.
  const uint64_t align = std::max<uint64_t>(64, alignment);
  const uint64_t size = std::max<uint64_t>(align, (nbytes + align - 1) / align * align);
  void* p = sys::aligned_alloc(align, size);  // the fault-injection seam: tests make it fail
  if (!p)
    return Error{{}, {}, {}, fmt::format("out of memory allocating {} bytes of host memory", nbytes), ErrorCode::kOutOfMemory};
  auto* bytes = static_cast<std::byte*>(p);
  return DeviceBuffer{bytes, 0, bytes, nbytes};
}

void CpuDevice::free(const DeviceBuffer& buffer) { sys::aligned_free(buffer.handle); }

void CpuDevice::upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
                       UploadDone done) {
  if (n) std::memcpy(buffer.host_ptr + offset, src, n);
  if (done) done(Status());
}

Status CpuDevice::download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) {
  if (n) std::memcpy(dst, buffer.host_ptr + offset, n);
  return {};
}

}  // namespace wm
