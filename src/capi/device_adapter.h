// A device supplied from C (struct wm_device) as a wm::Device.
#pragma once

#include <memory>

#include "weightmap/device.hpp"
#include "weightmap/weightmap.h"

namespace wm::capi {

// Validates `device` (struct_size, name, the required callbacks, dtypes)
// and wraps a copy of it. Error: kInvalidArgument naming the device's index.
Result<std::shared_ptr<Device>> make_c_device(const wm_device* device, size_t index);

}  // namespace wm::capi
