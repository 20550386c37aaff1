// make_cuda_device in a build with -DWM_CUDA=ON (src/device/no_cuda/ is the
// build without it).
#include "device/cuda/cuda_device.h"

namespace wm {

Result<std::shared_ptr<Device>> make_cuda_device(int ordinal) {
  auto d = cuda::CudaDevice::create(ordinal);
  if (!d) return d.error();
  return std::shared_ptr<Device>(std::move(d.value()));
}

bool cuda_built_in() { return true; }

}  // namespace wm
