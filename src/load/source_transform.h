// Reads a tensor whose bytes are not simply `nbytes` contiguous bytes at its
// offset (TensorInfo::source, PyTorch checkpoints): a non-contiguous view is
// gathered element by element from its storage, a deflated zip entry is
// inflated first. The whole tensor is read at once; the temporary this
// needs (the storage span a view covers) is outside the staging budget.
// TensorSource (load/tensor_source.h) reads such tensors through this, and
// converts them; use it rather than this, except where a parser's
// ByteSource is all there is (LoRA files, fuzzing).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "common/error.h"
#include "format/byte_source.h"
#include "format/tensor_table.h"
#include "io/file.h"

namespace wm {

// REQUIRES: dst.size() == t.nbytes. Works for plain tensors too (a read).
// Errors name the file, the tensor and the offset.
Status read_transformed(const ByteSource& src, const TensorInfo& t, std::span<std::byte> dst);
Status read_transformed(const File& file, const TensorInfo& t, std::span<std::byte> dst);

// Copies the elements of a strided view out of `storage` (which begins at
// the view's first element) into row-major `dst`. REQUIRES: every element
// reached lies inside `storage`.
void gather_strided(std::span<const std::byte> storage, std::span<const uint64_t> shape,
                    std::span<const uint64_t> strides, uint64_t elem_bytes, std::byte* dst);

}  // namespace wm
