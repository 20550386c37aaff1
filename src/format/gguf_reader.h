// GGUF v2/v3 header parser: metadata, tensor infos, alignment. Reads the
// header only; validates every count, length, type and offset against the
// file before anything trusts it.
#pragma once

#include "format/byte_source.h"
#include "format/tensor_table.h"

namespace wm {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr uint32_t kGgufMaxDims = 4;

// Returns a table with one file (index 0) and its tensors, offsets absolute.
Result<TensorTable> parse_gguf(const ByteSource& src);

}  // namespace wm
