// safetensors parser: 8-byte little-endian header length, JSON header,
// data section. Enforces the spec completely before anything is trusted:
// header size cap, known dtypes, shape x dtype size == byte length, offsets
// inside the data section, no overlaps, no holes.
#pragma once

#include "format/byte_source.h"
#include "format/tensor_table.h"

namespace wm {

inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;  // as the reference implementation
inline constexpr size_t kSafetensorsMaxDims = 32;

// Returns a table with one file (index 0) and its tensors, offsets absolute.
Result<TensorTable> parse_safetensors(const ByteSource& src);

// Parses a header already read into memory (`json` is the header text,
// `data_bytes` the length of the data section that follows it). Used by
// parse_safetensors and by the fuzzer.
Result<TensorTable> parse_safetensors_header(std::string_view json, uint64_t data_bytes,
                                             const std::string& file_name);

}  // namespace wm
