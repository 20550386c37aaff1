// The optional parts of wm::Device (staging memory, conversion on the
// device) and the built-in devices' factories.
#include "weightmap/device.hpp"

#include <fmt/format.h>

#include "device/cpu_device.h"
#include "device/sim_device.h"

namespace wm {

Device::~Device() = default;

std::byte* Device::allocate_staging(uint64_t) { return nullptr; }
void Device::free_staging(std::byte*, uint64_t) {}

bool Device::converts(DType, DType) const { return false; }

void Device::upload_converted(const DeviceBuffer&, uint64_t, const std::byte*, uint64_t, DType from, DType to,
                              uint64_t, UploadDone done) {
  // Only reached when converts() said yes and the override is missing.
  done(Error{{}, {}, {},
             fmt::format("device '{}' claims to convert {} to {} but does not implement upload_converted",
                         caps().name, dtype_name(from), dtype_name(to)),
             ErrorCode::kDevice});
}

Status Device::register_host(const std::byte*, uint64_t) {
  return Error{{}, {}, {}, fmt::format("device '{}' does not read host memory in place", caps().name),
               ErrorCode::kUnsupported};
}
void Device::unregister_host(const std::byte*, uint64_t) {}

bool Device::patches(DType) const { return false; }

Status Device::add_low_rank(const DeviceBuffer&, DType dtype, uint64_t, uint64_t, const LoraTerm*, size_t) {
  // Only reached when patches() said yes and the override is missing.
  return Error{{}, {}, {},
               fmt::format("device '{}' claims to patch {} tensors but does not implement add_low_rank", caps().name,
                           dtype_name(dtype)),
               ErrorCode::kDevice};
}

std::shared_ptr<Device> make_cpu_device() { return std::make_shared<CpuDevice>(); }
std::shared_ptr<Device> make_sim_device() { return std::make_shared<SimDevice>(); }

}  // namespace wm
