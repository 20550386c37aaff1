// Dtype conversion on a CUDA device: the kernels of convert_kernels.cu,
// bit-identical to wm::convert (dtype/convert.h) for every pair they take;
// their arithmetic is device/cuda/convert_math.h, checked on the host by
// tests/cuda_convert_math_test.cc. A plain C++ header: no CUDA headers, so
// the device code that calls it compiles without them.
#pragma once

#include <cstdint>

#include "dtype/dtype.h"

namespace wm::cuda {

// True when the GPU kernels convert `from` to `to` (a subset of
// wm::can_convert): F32/F16/BF16 among themselves, F8_E4M3/F8_E5M2 to
// F32/F16, Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K to F32/F16/BF16, and any
// of these to itself (a device-to-device byte copy). Pure logic: no CUDA.
bool gpu_converts(DType from, DType to);

// Enqueues on `stream` (a cudaStream_t passed as void*; nullptr: the
// default stream) the conversion of `elements` elements (a multiple of the
// source block size) from device memory `src` (bytes of `from`) to device
// memory `dst` (values of `to`, elements / block elements * block bytes of
// `to`). Any alignment of src and dst works (element-aligned ones take
// wider loads and stores). Returns the cudaError_t of the launch as int
// (0 = success); cudaErrorInvalidValue (1), with nothing enqueued, when
// !gpu_converts(from, to) or `elements` is not whole blocks. Errors of the
// kernel itself show at the stream's next synchronisation, as with any
// launch. Nothing is enqueued for 0 elements.
int launch_convert(DType from, DType to, const void* src, void* dst, uint64_t elements, void* stream);

}  // namespace wm::cuda
