// A loaded model: every tensor with where its bytes are (a pointer into the
// file mapping, a host buffer, or a device buffer), how they got there and
// why. Owns the files, mappings and buffers; release() gives them all back.
//
// Thread-safe for concurrent reads; release() must not race with them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "device/sim_device.h"
#include "format/tensor_table.h"
#include "io/mapped_file.h"
#include "load/load_report.h"
#include "plan/load_plan.h"

namespace wm {

struct LoadedTensor {
  std::string name;              // qualified name ("component.name")
  DType dtype = DType::F32;      // as the engine gets it
  std::vector<uint64_t> shape;   // outermost first
  uint64_t nbytes = 0;
  uint32_t device = 0;           // index into Model::devices()
  Placement placement = Placement::kMap;
  bool host_resident = false;    // offloaded: engine fetches from host memory at use
  std::string reason;            // why not mapped; empty when mapped
  // Where the bytes are: host memory (mapped file or host buffer) ...
  const std::byte* host_data = nullptr;
  // ... or a buffer on a device that cannot read host memory.
  bool on_device = false;
  SimDevice::Handle device_buffer = 0;
  // Where the bytes came from.
  uint32_t file = 0;
  uint64_t file_offset = 0;
};

class Model {
 public:
  Model() = default;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model() = default;

  const LoadedTensor* find(std::string_view qualified_name) const;
  const std::vector<LoadedTensor>& tensors() const { return tensors_; }
  const std::vector<DeviceCaps>& devices() const { return devices_; }
  const TensorTable& table() const { return table_; }
  const LoadReport& report() const { return report_; }
  LoadReport& mutable_report() { return report_; }
  SimDevice* sim() const { return sim_.get(); }

  // Blocks until tensor `index` (its position in tensors()) can be read:
  // with a background prefetch, until its file range is in the page cache.
  // Fails (naming the file) when that range could not be read.
  Status wait_ready(size_t index) const;

  // Unmaps the files, frees host and device buffers. Tensors are dropped.
  void release();

 private:
  friend class Loader;
  TensorTable table_;
  std::vector<DeviceCaps> devices_;
  std::vector<LoadedTensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<std::shared_ptr<const File>> files_;
  std::vector<std::unique_ptr<MappedFile>> mappings_;  // per file, null when not mapped
  std::vector<std::unique_ptr<std::byte, void (*)(void*)>> host_buffers_;
  std::unique_ptr<SimDevice> sim_;
  LoadReport report_;
};

}  // namespace wm
