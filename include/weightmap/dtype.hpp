// Element types: every type weightmap knows, in GGUF (ggml type ids) and
// safetensors (dtype names). Block sizes and bytes per block live in the
// library's one type table; dtype_name() gives the file format's spelling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "weightmap/error.hpp"
#include "weightmap/export.hpp"

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

// "F16", "Q4_K", "F8_E4M3", ...
WM_API const char* dtype_name(DType t);
// Any known name, GGUF or safetensors spelling.
WM_API std::optional<DType> dtype_from_name(std::string_view name);
// The ggml type id (ggml_type), or -1 when GGUF has no such type.
WM_API int32_t dtype_gguf_id(DType t);
// Elements per block and bytes per block (1 and the element size for plain
// types; 32 and 34 for Q8_0, ...). Sizes are (elements / block_elems) * block_bytes.
WM_API uint32_t dtype_block_elems(DType t);
WM_API uint32_t dtype_block_bytes(DType t);

// Whether dtype_convert() turns `from` into `to`: F32/F16/BF16 among
// themselves, F64 -> F32, I64 -> I32, F8_E4M3/F8_E5M2 -> F16/F32, and every
// block type with a dequantiser -> F32/F16/BF16 (see the README's
// "Quantised types"); any type to itself.
WM_API bool dtype_can_convert(DType from, DType to);
// Converts `elements` values of `from` at `src` into `to` at `dst`, which
// must hold elements / dtype_block_elems(to) * dtype_block_bytes(to) bytes.
// `src` and `dst` must not overlap. Thread-safe (no state). Errors:
// kUnsupported (no such conversion), kInvalidArgument (`elements` is not a
// whole number of `from`'s blocks), kBadFormat (an I64 value does not fit
// I32: nothing partial is to be used).
WM_API Status dtype_convert(DType from, DType to, const void* src, uint64_t elements, void* dst);

}  // namespace wm
