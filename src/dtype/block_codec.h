// One codec per quantised block type (and the scalar float types): ggml's
// dequantize_row_* and reference quantisers (quantize_row_*_ref), defined
// once. Which type has which codec is the `codec` column of the type table
// (dtype/dtype.cc); everything that reads or writes quantised blocks
// (conversion, LoRA merge, the compute kernels' tails) goes through here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dtype/dtype.h"

namespace wm {

// Dequantises `nblocks` consecutive blocks at `src` into nblocks * block_elems floats at `out`.
using DequantizeFn = void (*)(const std::byte* src, float* out, uint64_t nblocks);
// Quantises nblocks * block_elems floats into nblocks blocks (ggml's reference quantiser, *_ref).
using QuantizeFn = void (*)(const float* x, std::byte* dst, uint64_t nblocks);
struct BlockCodec {
  DequantizeFn dequantize = nullptr;  // null: no dequantiser for this type
  QuantizeFn quantize = nullptr;      // null: weightmap cannot (re)quantise to this type
};
// The codec of a block type (Packing::kRowBlock), or of the scalar float types; nullptr if none.
const BlockCodec* block_codec(DType t);

// The codec objects, one per family file. The type table names them (use
// block_codec()); a hot loop may call one by name to skip the lookup.
extern const BlockCodec kCodecF32, kCodecF16, kCodecBF16;                        // float_codec.cc
extern const BlockCodec kCodecQ4_0, kCodecQ4_1, kCodecQ5_0, kCodecQ5_1, kCodecQ8_0,
    kCodecQ8_1;                                                                  // quant_legacy.cc
extern const BlockCodec kCodecQ2_K, kCodecQ3_K, kCodecQ4_K, kCodecQ5_K, kCodecQ6_K,
    kCodecQ8_K, kCodecTQ1_0, kCodecTQ2_0;                                        // quant_k.cc
extern const BlockCodec kCodecIQ4_NL, kCodecIQ4_XS, kCodecMXFP4;                 // quant_iq.cc

}  // namespace wm
