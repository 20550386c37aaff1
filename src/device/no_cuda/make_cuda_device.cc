// make_cuda_device in a build without CUDA: the name is known, the device
// is not there, and the error says how to get it.
#include <fmt/format.h>

#include "device/device_caps.h"
#include "weightmap/device.hpp"

namespace wm {

Result<std::shared_ptr<Device>> make_cuda_device(int ordinal) {
  return Error{{}, {}, {},
               fmt::format("device '{}' is not built in: this weightmap was built without -DWM_CUDA=ON",
                           cuda_device_name(ordinal)),
               ErrorCode::kUnsupported};
}

bool cuda_built_in() { return false; }

}  // namespace wm
