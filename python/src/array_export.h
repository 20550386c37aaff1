// Tensor bytes as NumPy arrays: a read-only zero-copy view that keeps the
// model alive, or a new array the native module fills.
#pragma once

#include <cstddef>
#include <memory>

#include <nanobind/nanobind.h>

#include "model_state.h"

namespace wmpy {

// A read-only 1-D uint8 array over tensor `index`'s host bytes. Its owner
// holds `state` (so the mapping outlives close()) and counts as a live
// array of the tensor until it is gone. REQUIRES: the tensor has host_data
// (not only on a device); the caller holds SharedAccess.
nanobind::object view_tensor_bytes(const std::shared_ptr<ModelState>& state, size_t index);

// A new writable 1-D uint8 NumPy array of `nbytes`; *data points at its bytes.
nanobind::object new_byte_array(size_t nbytes, std::byte** data);

}  // namespace wmpy
