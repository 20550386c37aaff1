// The immediate merge: W += sum over terms of scale * up @ down, computed in
// F32 one row at a time and written back in the tensor's own dtype (F32,
// F16, BF16 round to nearest even; Q8_0 and Q4_0 are dequantised, patched
// and requantised block by block as ggml's reference quantisers do).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "dtype/dtype.h"
#include "lora/lora_types.h"

namespace wm {

// Whether add_lora_delta can patch tensors of this dtype in place.
bool lora_can_patch(DType t);

// Patches the rows x cols tensor at `data` (dtype `t`, row-major; for the
// block types each row is whole blocks) in place.
// REQUIRES: lora_can_patch(t); every term has these rows and cols.
void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms);
// The same with the caller's scratch row (cols floats): allocates nothing,
// so it can run under a SIGBUS guard (io/sigbus_guard.h).
void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms,
                    std::span<float> row);

// ggml's reference quantisers, for one row of `n` values (n a multiple of 32).
void quantize_row_q8_0(const float* x, std::byte* dst, uint64_t n);
void quantize_row_q4_0(const float* x, std::byte* dst, uint64_t n);

}  // namespace wm
