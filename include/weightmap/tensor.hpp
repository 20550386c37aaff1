// One loaded tensor as the engine sees it: its name, type and shape, where
// its bytes are (a pointer into the file mapping, a host copy, or a device
// buffer), how they got there and why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "weightmap/device.hpp"
#include "weightmap/dtype.hpp"
#include "weightmap/export.hpp"

namespace wm {

enum class Placement : uint8_t {
  kMap,      // used in place from the file mapping: no copy at all
  kCopy,     // bytes copied unchanged into a buffer (host or device)
  kConvert,  // converted to another dtype on the way
};
// "map", "copy", "convert".
WM_API const char* placement_name(Placement p);

enum class SliceDim : uint8_t { kNone, kRows, kCols };
// "whole", "rows", "cols".
WM_API const char* slice_dim_name(SliceDim d);

// Which part of the file's tensor a Tensor holds (Options::shard).
struct TensorSlice {
  SliceDim dim = SliceDim::kNone;  // kNone: the whole tensor (replicated)
  uint64_t start = 0;              // first row (dim 0) or column (last dim) taken
  uint64_t count = 0;              // rows/columns read from the file
  uint64_t padded = 0;             // zero rows/columns after them (":pad" rules)
  std::vector<uint64_t> full_shape;  // the tensor's shape in the file
};

struct Tensor {
  std::string name;              // qualified name: "component.name" in a diffusers folder, else as stored
  DType dtype = DType::F32;      // as the engine gets it
  std::vector<uint64_t> shape;   // outermost first (ggml's ne[] is this reversed)
  uint64_t nbytes = 0;
  uint32_t device = 0;           // index into Model::devices()
  Placement placement = Placement::kMap;
  bool host_resident = false;    // offloaded (--offload-to-cpu): in host memory, the engine fetches it at use
  std::string reason;            // why it is not mapped; empty when mapped
  // Where the bytes are: host memory (the mapping or a host copy) ...
  const std::byte* host_data = nullptr;
  // ... or a buffer of devices()[device] that the host cannot read.
  bool on_device = false;
  DeviceBuffer device_buffer;
  // Where the bytes came from: Model::file_path(file) at file_offset.
  uint32_t file = 0;
  uint64_t file_offset = 0;
  // Model::generation() when this tensor's bytes or host_data last changed
  // (LoRA apply/remove); 0 when unchanged since the load.
  uint64_t generation = 0;
  // With Options::shard: which rows or columns of the file's tensor these
  // are (shape is the slice's). A row slice of a mapped tensor is mapped;
  // a column slice is gathered row by row into a copy.
  TensorSlice slice;
};

}  // namespace wm
