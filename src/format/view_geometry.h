// Where a strided view (a PyTorch tensor over its storage) reaches: the one
// computation behind the parser's checks (format/torch_reader.cc) and the
// copy path's gather (load/source_transform.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace wm {

struct ViewGeometry {
  // storage_offset + sum((size_d - 1) * stride_d) over non-empty dimensions:
  // the last storage element the view reads (meaningless for an empty view).
  uint64_t last_element = 0;
  // Row-major contiguous (strides of size-1 dimensions ignored), or empty:
  // the view reads as one byte range.
  bool contiguous = true;
};

// Elements, outermost first. REQUIRES: shape.size() == strides.size().
// nullopt when size x stride overflows.
std::optional<ViewGeometry> view_geometry(std::span<const uint64_t> shape, std::span<const uint64_t> strides,
                                          uint64_t storage_offset);

}  // namespace wm
