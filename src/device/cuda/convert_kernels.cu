// The GPU conversion kernels (convert_kernels.h): one thread per element,
// grid-stride with 64-bit indices. A quantised element is decoded from its
// block by the thread that writes it (the threads of a warp share a block,
// so its bytes are read once per warp from cache); the arithmetic is
// convert_math.h's, the CPU's operation for operation.
//
// Compile with -fmad=false and without --use_fast_math / -ftz=true: the
// decoders already use __fmul_rn/__fadd_rn/__fsub_rn (never contracted),
// but F32 values pass through only as bits, and nothing here should be
// flushed to zero either.
#include "device/cuda/convert_kernels.h"

#include <cuda_runtime.h>

#include <cstdint>

#include "device/cuda/convert_math.h"

namespace wm::cuda {
namespace {

template <DType From, DType To, bool Aligned>
__global__ void convert_kernel(const uint8_t* src, uint8_t* dst, uint64_t n) {
  const uint64_t stride = static_cast<uint64_t>(gridDim.x) * blockDim.x;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    convert_element<From, To, Aligned>(src, dst, i);
}

constexpr unsigned kThreads = 256;
constexpr uint64_t kMaxBlocks = 65536;  // grid-stride beyond 16M threads

bool aligned_to(const void* p, uint32_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace

bool gpu_converts(DType from, DType to) { return gpu_convert_supported(from, to); }

int launch_convert(DType from, DType to, const void* src, void* dst, uint64_t elements, void* stream) {
  if (!gpu_convert_supported(from, to) || elements % gpu_block_elems(from) != 0) return cudaErrorInvalidValue;
  if (elements == 0) return cudaSuccess;
  auto s = static_cast<cudaStream_t>(stream);
  if (from == to) {
    const uint64_t bytes = elements / gpu_block_elems(from) * gpu_block_bytes(from);
    return cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s);
  }
  // Wide loads and stores when both sides are element-aligned (blocks are
  // always read bytewise: their fields are unaligned).
  const bool aligned = aligned_to(dst, gpu_block_bytes(to)) &&
                       (gpu_block_elems(from) != 1 || aligned_to(src, gpu_block_bytes(from)));
  const uint64_t want = (elements + kThreads - 1) / kThreads;
  const auto blocks = static_cast<unsigned>(want < kMaxBlocks ? want : kMaxBlocks);
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  const bool dispatched = dispatch_conversion(from, to, [&](auto from_c, auto to_c) {
    constexpr DType kFrom = decltype(from_c)::value, kTo = decltype(to_c)::value;
    if (aligned) convert_kernel<kFrom, kTo, true><<<blocks, kThreads, 0, s>>>(in, out, elements);
    else convert_kernel<kFrom, kTo, false><<<blocks, kThreads, 0, s>>>(in, out, elements);
  });
  if (!dispatched) return cudaErrorInvalidValue;  // unreachable: gpu_convert_supported said yes
  return cudaGetLastError();
}

}  // namespace wm::cuda
