// Gives every tensor the home the plan chose for its bytes, before any is
// read: a pointer into its file's mapping, a host copy (the cpu device's
// memory), or a buffer on its device. The buffers are owned by a
// DeviceBuffers, which frees them when it goes. Mapped tensors kept in host
// memory for a device that cannot read it (offload_to_cpu) are offered to
// that device to read in place (Device::register_host).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "common/error.h"
#include "format/tensor_table.h"
#include "io/mapped_file.h"
#include "plan/load_plan.h"
#include "weightmap/device.hpp"
#include "weightmap/tensor.hpp"

namespace wm {

// Every buffer the devices allocated for a model (host copies are the cpu
// device's). Freed by free_all() or on destruction. REQUIRES: no upload
// into them is in flight then (the devices were synchronized).
class DeviceBuffers {
 public:
  DeviceBuffers() = default;
  explicit DeviceBuffers(std::vector<std::shared_ptr<Device>> devices) : devices_(std::move(devices)) {}
  DeviceBuffers(DeviceBuffers&& o) noexcept;
  DeviceBuffers& operator=(DeviceBuffers&& o) noexcept;
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
  ~DeviceBuffers() { free_all(); }

  void add(uint32_t device, const DeviceBuffer& buffer) { entries_.emplace_back(device, buffer); }
  // A host range `device` accepted in register_host: unregistered first.
  void add_host_range(uint32_t device, const std::byte* p, uint64_t n) { host_ranges_.push_back({device, p, n}); }
  // (device index, buffer), in allocation order.
  const std::vector<std::pair<uint32_t, DeviceBuffer>>& entries() const { return entries_; }
  void free_all();

 private:
  std::vector<std::shared_ptr<Device>> devices_;
  std::vector<std::pair<uint32_t, DeviceBuffer>> entries_;
  struct HostRange {
    uint32_t device;
    const std::byte* p;
    uint64_t n;
  };
  std::vector<HostRange> host_ranges_;
};

struct PlacedTensors {
  std::vector<Tensor> tensors;  // per table tensor
  // Per tensor: the host memory its bytes are written to (a host copy, or a
  // device buffer the host may write); empty when mapped or device-only.
  std::vector<std::span<std::byte>> writable;
  DeviceBuffers buffers;
  uint64_t host_copy_bytes = 0;  // LoadReport::host_copy_bytes
  uint64_t device_bytes = 0;     // LoadReport::device_bytes
};

// REQUIRES: mappings[f] is set for every file a kMap tensor lies in.
// Fails naming the tensor whose buffer a device refused.
Result<PlacedTensors> place_tensors(const TensorTable& table, const LoadPlan& plan,
                                    const std::vector<std::unique_ptr<MappedFile>>& mappings,
                                    const std::vector<std::shared_ptr<Device>>& devices);

}  // namespace wm
