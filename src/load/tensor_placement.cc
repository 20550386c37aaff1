#include "load/tensor_placement.h"

#include <fmt/format.h>
#include <utility>

namespace wm {

DeviceBuffers::DeviceBuffers(DeviceBuffers&& o) noexcept
    : devices_(std::move(o.devices_)), entries_(std::exchange(o.entries_, {})) {}

DeviceBuffers& DeviceBuffers::operator=(DeviceBuffers&& o) noexcept {
  if (this != &o) {
    free_all();
    devices_ = std::move(o.devices_);
    entries_ = std::exchange(o.entries_, {});
  }
  return *this;
}

void DeviceBuffers::free_all() {
  for (const auto& [device, buffer] : entries_) devices_[device]->free(buffer);
  entries_.clear();
}

Result<PlacedTensors> place_tensors(const TensorTable& table, const LoadPlan& plan,
                                    const std::vector<std::unique_ptr<MappedFile>>& mappings,
                                    const std::vector<std::shared_ptr<Device>>& devices) {
  PlacedTensors out;
  out.buffers = DeviceBuffers(devices);
  out.tensors.reserve(table.tensors().size());
  out.writable.resize(table.tensors().size());
  for (size_t i = 0; i < table.tensors().size(); ++i) {
    const TensorInfo& src = table.tensors()[i];
    const TensorPlan& p = plan.tensors[i];
    Tensor t;
    t.name = src.qualified_name();
    t.dtype = p.dtype;
    t.shape = src.shape;
    t.nbytes = p.nbytes;
    t.device = p.device;
    t.placement = p.placement;
    t.host_resident = p.host_resident;
    t.reason = p.reason;
    t.file = src.file;
    t.file_offset = src.offset;
    const DeviceCaps& caps = devices[p.device]->caps();
    if (p.placement == Placement::kMap) {
      t.host_data = mappings[src.file]->data() + src.offset;
    } else {
      // A device that reads host memory, or an offloaded tensor, gets a host
      // copy (the cpu device's memory); any other device its own buffer.
      const bool host = caps.reads_host_memory || p.host_resident;
      const uint32_t owner = host ? 0 : p.device;
      auto buffer = devices[owner]->allocate(p.nbytes, caps.required_alignment(p.dtype));
      if (!buffer) {
        Error e = with_code(buffer.error(), ErrorCode::kDevice);
        e.file = table.files()[src.file].path;
        e.tensor = src.name;
        e.offset = src.offset;
        e.message = fmt::format("allocating {} bytes on device '{}': {}", p.nbytes, devices[owner]->caps().name,
                                e.message);
        return e;
      }
      out.buffers.add(owner, buffer.value());
      t.host_data = buffer->host_ptr;  // non-null when host-writable: the loader writes it directly
      if (buffer->host_ptr) out.writable[i] = {buffer->host_ptr, p.nbytes};
      if (host) {
        out.host_copy_bytes += p.nbytes;
      } else {
        t.on_device = true;
        t.device_buffer = buffer.value();
        out.device_bytes += p.nbytes;
      }
    }
    out.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace wm
