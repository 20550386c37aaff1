// Conversion kernels between dtypes: F32<->F16<->BF16, F64->F32, I64->I32,
// F8_E4M3/F8_E5M2->F16/F32, and dequantisation of every block type with a
// dequantiser (dtype/block_codec.h) to F32/F16/BF16.
// Element-wise and stateless, so the copy path can convert chunk by chunk.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dtype/dtype.h"

namespace wm {

bool can_convert(DType from, DType to);

// Converts `n` elements. REQUIRES: can_convert(from, to); n is a multiple of
// dtype_info(from).block_elems; src and dst do not overlap. Returns how many
// values did not fit the target (I64 -> I32 out of range, written clamped):
// the caller must treat a non-zero count as an error, never as data.
uint64_t convert(DType from, DType to, const std::byte* src, std::byte* dst, uint64_t n);

// Bytes `n_blocks` blocks of `from` take once converted to `to`.
// REQUIRES: can_convert(from, to).
inline uint64_t converted_bytes(DType from, DType to, uint64_t n_blocks) {
  const DTypeInfo& s = dtype_info(from);
  if (from == to) return n_blocks * s.block_bytes;
  const DTypeInfo& d = dtype_info(to);
  return n_blocks * (s.block_elems / d.block_elems * d.block_bytes);
}

// Elements of dtype `t` in `nbytes` bytes. REQUIRES: nbytes is whole blocks.
inline uint64_t elements_in(DType t, uint64_t nbytes) {
  const DTypeInfo& i = dtype_info(t);
  return nbytes / i.block_bytes * i.block_elems;
}

float f8_e4m3_to_f32(uint8_t v);
float f8_e5m2_to_f32(uint8_t v);

}  // namespace wm
