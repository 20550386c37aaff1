// What a compute device can do, as the planner needs to know it: can it read
// host memory in place (then a mapped tensor needs no copy), what alignment
// its tensor data needs, which dtypes it computes on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtype/dtype.h"
#include "weightmap/device.hpp"

namespace wm {

// The host CPU: reads host memory in place, any dtype.
DeviceCaps cpu_device_caps();
// The in-process stand-in for a discrete accelerator: own memory, no host
// pointers, 256-byte alignment like CUDA allocations.
DeviceCaps sim_device_caps();

}  // namespace wm
