// What a single-file parser returns: the file's description and its tensors
// (with file index 0), ready to be appended to a TensorTable.
#pragma once

#include "format/tensor_table.h"

namespace wm {

// Checks shared by every format once offsets are absolute: each tensor lies
// inside the file and no two tensors overlap. Throws ParseFailure naming the
// tensor and its offset.
void check_tensor_ranges(const FileInfo& file, const std::vector<TensorInfo>& tensors);

// A parse of `file`, finished: an error without a code gets kBadFormat; a
// table keeps `file` open in FileInfo::opened, so the loader maps and reads
// the very file that was parsed (no second open).
Result<TensorTable> keep_file_open(Result<TensorTable> parsed, File file);

}  // namespace wm
