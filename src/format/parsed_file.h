// What a single-file parser returns: the file's description and its tensors
// (with file index 0), ready to be appended to a TensorTable.
#pragma once

#include "format/tensor_table.h"

namespace wm {

// Checks shared by every format once offsets are absolute: each tensor lies
// inside the file and no two tensors overlap. Throws ParseFailure naming the
// tensor and its offset.
void check_tensor_ranges(const FileInfo& file, std::vector<TensorInfo>& tensors);

}  // namespace wm
