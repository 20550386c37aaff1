#include "format/view_geometry.h"

namespace wm {

std::optional<ViewGeometry> view_geometry(std::span<const uint64_t> shape, std::span<const uint64_t> strides,
                                          uint64_t storage_offset) {
  ViewGeometry g;
  g.last_element = storage_offset;
  bool empty = false;
  uint64_t expected_stride = 1;  // unsigned: wraps only past an element count the caller has refused
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) {
      empty = true;
      continue;
    }
    uint64_t step = 0;
    if (__builtin_mul_overflow(shape[d] - 1, strides[d], &step) ||
        __builtin_add_overflow(g.last_element, step, &g.last_element))
      return std::nullopt;
    if (shape[d] > 1 && strides[d] != expected_stride) g.contiguous = false;
    expected_stride *= shape[d];
  }
  if (empty) g.contiguous = true;
  return g;
}

}  // namespace wm
