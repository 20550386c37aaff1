// One component of a multi-component model (a diffusers pipeline's
// `text_encoder`, `transformer`, ...), as a table of its own, so that a
// pipeline can load, use and release its components one after another.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "format/tensor_table.h"

namespace wm {

// The component names of `table`, in file order, each once.
std::vector<std::string> component_names(const TensorTable& table);

// The files and tensors of component `name` (file indices rebased). Fails
// naming the components there are when `name` is not one of them.
Result<TensorTable> select_component(const TensorTable& table, std::string_view name);

}  // namespace wm
