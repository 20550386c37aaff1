// How `load` shows a loaded model and its report: text for people, JSON for tools.
#pragma once

#include <string>

#include "weightmap/weightmap.hpp"

namespace wm::cli {

// With Options::shard: a "shard" line / object (the report's) saying which
// rank this is, from where, and what it took, and each sliced tensor's slice.
std::string load_text(const Model& model, bool per_tensor);
std::string load_json(const Model& model, bool per_tensor);

// "rows 1024..2047 of 4096", "cols 0..63 of 128, 2 zero-padded"; "" for a whole tensor.
std::string slice_text(const TensorSlice& s);

}  // namespace wm::cli
