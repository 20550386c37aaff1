// The immediate merge: W += sum over terms of scale * up @ down, computed in
// F32 one row at a time and written back in the tensor's own dtype through
// its block codec (dtype/block_codec.h): F32, F16, BF16 round to nearest
// even; quantised types are dequantised, patched and requantised block by
// block with ggml's reference quantisers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dtype/dtype.h"
#include "lora/lora_types.h"

namespace wm {

// Whether add_lora_delta can patch tensors of this dtype in place: its codec
// both dequantises and quantises.
bool lora_can_patch(DType t);

// The dtypes lora_can_patch accepts, for messages ("F32, F16, ..., Q6_K").
std::string lora_patchable_dtypes();

// Patches the rows x cols tensor at `data` (dtype `t`, row-major; for the
// block types each row is whole blocks) in place.
// REQUIRES: lora_can_patch(t); every term has these rows and cols.
void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms);
// The same with the caller's scratch row (cols floats): allocates nothing,
// so it can run under a SIGBUS guard (io/sigbus_guard.h).
void add_lora_delta(DType t, std::byte* data, uint64_t rows, uint64_t cols, std::span<const LoraTerm> terms,
                    std::span<float> row);

}  // namespace wm
