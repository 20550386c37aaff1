#include "load/tensor_placement.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <utility>

#include "io/page_size.h"

namespace wm {
namespace {

// Mapped tensors kept in host memory for a device that cannot read host
// memory (offload_to_cpu): each file's range of them, page-aligned, is
// offered to the device to read in place (a GPU registers it). Each tensor
// says what came of it; a device that does not do this at all
// (kUnsupported, the default) adds nothing to its reason.
void offer_host_ranges(const std::vector<std::unique_ptr<MappedFile>>& mappings,
                       const std::vector<std::shared_ptr<Device>>& devices, PlacedTensors& out) {
  auto offered = [](const Tensor& t) { return t.placement == Placement::kMap && t.host_resident; };
  std::map<std::pair<uint32_t, uint32_t>, std::pair<const std::byte*, const std::byte*>> ranges;  // (device, file)
  for (const Tensor& t : out.tensors) {
    if (!offered(t) || t.nbytes == 0) continue;
    auto [it, fresh] = ranges.try_emplace({t.device, t.file}, t.host_data, t.host_data + t.nbytes);
    if (!fresh) {
      it->second.first = std::min(it->second.first, t.host_data);
      it->second.second = std::max(it->second.second, t.host_data + t.nbytes);
    }
  }
  for (const auto& [key, range] : ranges) {
    const auto [device, file] = key;
    if (!mappings[file]) continue;
    const auto [start, len] = page_cover(range.first, static_cast<uint64_t>(range.second - range.first));
    const auto* p = reinterpret_cast<const std::byte*>(start);
    Device& d = *devices[device];
    Status s = d.register_host(p, len);
    if (s) out.buffers.add_host_range(device, p, len);
    if (!s && s.error().code == ErrorCode::kUnsupported) continue;
    const std::string note = s ? fmt::format("{} reads it in place (host memory registered)", d.caps().name)
                               : fmt::format("{} cannot read it in place: {}", d.caps().name, s.error().message);
    for (Tensor& t : out.tensors)
      if (offered(t) && t.device == device && t.file == file)
        t.reason += "; " + note;
  }
}

}  // namespace

DeviceBuffers::DeviceBuffers(DeviceBuffers&& o) noexcept
    : devices_(std::move(o.devices_)),
      entries_(std::exchange(o.entries_, {})),
      host_ranges_(std::exchange(o.host_ranges_, {})) {}

DeviceBuffers& DeviceBuffers::operator=(DeviceBuffers&& o) noexcept {
  if (this != &o) {
    free_all();
    devices_ = std::move(o.devices_);
    entries_ = std::exchange(o.entries_, {});
    host_ranges_ = std::exchange(o.host_ranges_, {});
  }
  return *this;
}

void DeviceBuffers::free_all() {
  for (const HostRange& r : host_ranges_) devices_[r.device]->unregister_host(r.p, r.n);
  host_ranges_.clear();
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
    t.slice = src.slice;
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
  offer_host_ranges(mappings, devices, out);
  return out;
}

}  // namespace wm
