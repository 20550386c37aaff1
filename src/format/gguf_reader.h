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

struct GgufOptions {
  // Keep the items of metadata arrays (tokenizer vocabularies...). When
  // false, arrays are still validated but kept as their element type and
  // length only (MetaValue::array_summary), which makes parsing a real LLM
  // header several times faster.
  bool array_items = true;
};

// Returns a table with one file (index 0) and its tensors, offsets absolute.
Result<TensorTable> parse_gguf(const ByteSource& src, const GgufOptions& options = {});

}  // namespace wm
