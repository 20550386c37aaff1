#include "device/cuda/lora_kernel.h"

#include <cuda_runtime.h>

namespace wm::cuda {
namespace {

__global__ void low_rank_kernel(DType t, uint8_t* w, uint64_t rows, uint64_t cols, const LowRankView* terms,
                                uint32_t n_terms) {
  const uint64_t n = rows * cols, stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t e = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride)
    patch_element(t, w, e / cols, e % cols, cols, terms, n_terms);
}

constexpr unsigned kThreads = 256;
constexpr uint64_t kMaxBlocks = 65536;

}  // namespace

int launch_low_rank(DType t, void* w, uint64_t rows, uint64_t cols, const LowRankView* terms, uint32_t n_terms,
                    void* stream) {
  if (!low_rank_patchable(t)) return cudaErrorInvalidValue;
  const uint64_t n = rows * cols;
  if (n == 0) return cudaSuccess;
  const uint64_t want = (n + kThreads - 1) / kThreads;
  const auto blocks = static_cast<unsigned>(want < kMaxBlocks ? want : kMaxBlocks);
  low_rank_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(t, static_cast<uint8_t*>(w), rows, cols,
                                                                              terms, n_terms);
  return cudaGetLastError();
}

}  // namespace wm::cuda
