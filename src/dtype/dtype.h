// The one type table: every element type weightmap knows, with its GGUF type
// id and/or safetensors name, block size and bytes per block. Every size
// computation in the project goes through tensor_nbytes() below.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wm {

enum class DType : uint8_t {
  // Plain types shared by GGUF and safetensors.
  F32, F16, BF16, F64, I8, I16, I32, I64,
  // safetensors only.
  BOOL, U8, U16, U32, U64, C64, F8_E4M3, F8_E5M2, F8_E8M0, F6_E2M3, F6_E3M2, F4,
  // GGUF block-quantised types.
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
  Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
  IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS, IQ1_M,
  TQ1_0, TQ2_0, MXFP4,
  kCount
};

// How elements are packed into blocks; decides which shapes are legal.
enum class Packing : uint8_t {
  kScalar,    // one element per block
  kRowBlock,  // GGUF quantisation: blocks run along the innermost dimension
  kSubByte,   // safetensors F4/F6: bits packed across the whole tensor
};

struct DTypeInfo {
  DType dtype;
  const char* name;        // spelling in the file's own format
  int32_t gguf_id;         // ggml_type id, -1 if GGUF has no such type
  bool in_safetensors;     // a dtype of the safetensors spec
  uint32_t block_elems;    // elements per block
  uint32_t block_bytes;    // bytes per block
  Packing packing;
  bool is_float;           // floating point (including quantised floats)
};

const DTypeInfo& dtype_info(DType t);
inline const char* dtype_name(DType t) { return dtype_info(t).name; }

std::optional<DType> dtype_from_gguf_id(uint32_t id);
std::optional<DType> dtype_from_safetensors_name(std::string_view name);
// Any known name, either format (for command-line options).
std::optional<DType> dtype_from_name(std::string_view name);

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
