// The LoRA kernel of the cuda device (lora_kernel.cu): W += sum of
// scale * up @ down in the tensor's own memory, one thread per element, with
// lora_math.h's arithmetic (the CPU's, bit for bit). Plain C++: no CUDA
// headers.
#pragma once

#include <cstdint>

#include "device/cuda/lora_math.h"

namespace wm::cuda {

// Enqueues on `stream` (a cudaStream_t as void*) the patch of the rows x
// cols tensor of dtype `t` at device pointer `w`, by `n_terms` terms whose
// views (and the factors they point to) are in device memory. Returns the
// launch's cudaError_t as int (0: success).
// REQUIRES: low_rank_patchable(t).
int launch_low_rank(DType t, void* w, uint64_t rows, uint64_t cols, const LowRankView* terms, uint32_t n_terms,
                    void* stream);

}  // namespace wm::cuda
