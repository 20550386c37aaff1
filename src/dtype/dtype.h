// The one type table: every element type weightmap knows, with its GGUF type
// id and/or safetensors name, block size and bytes per block. Every size
// computation in the project goes through tensor_nbytes() below; every
// block (de)quantisation through the codec column (dtype/block_codec.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weightmap/dtype.hpp"

namespace wm {

// How elements are packed into blocks; decides which shapes are legal.
enum class Packing : uint8_t {
  kScalar,    // one element per block
  kRowBlock,  // GGUF quantisation: blocks run along the innermost dimension
  kSubByte,   // safetensors F4/F6: bits packed across the whole tensor
};

struct BlockCodec;  // dtype/block_codec.h

struct DTypeInfo {
  DType dtype;
  const char* name;        // spelling in the file's own format
  int32_t gguf_id;         // ggml_type id, -1 if GGUF has no such type
  bool in_safetensors;     // a dtype of the safetensors spec
  uint32_t block_elems;    // elements per block
  uint32_t block_bytes;    // bytes per block
  Packing packing;
  bool is_float;           // floating point (including quantised floats)
  const BlockCodec* codec = nullptr;  // (de)quantiser of whole blocks; see block_codec()
};

const DTypeInfo& dtype_info(DType t);

std::optional<DType> dtype_from_gguf_id(uint32_t id);
std::optional<DType> dtype_from_safetensors_name(std::string_view name);

// A ggml type id that once existed and was removed (Q4_2, Q4_0_4_4, ...):
// the reason to print, or nullptr.
const char* removed_gguf_type_reason(uint32_t id);

// Elements of a shape, or nullopt on overflow (beyond 2^62 elements).
std::optional<uint64_t> element_count(std::span<const uint64_t> shape);

// Bytes a tensor of this dtype and shape (outermost first) occupies, or an
// explanation of why the shape is impossible for the dtype (overflow, a row
// that is not a whole number of blocks, a sub-byte tensor of partial bytes).
struct SizeOrReason {
  std::optional<uint64_t> nbytes;
  std::string reason;
};
SizeOrReason tensor_nbytes(DType t, std::span<const uint64_t> shape);

}  // namespace wm
