// What a compute device can do, as the planner needs to know it: can it read
// host memory in place (then a mapped tensor needs no copy), what alignment
// its tensor data needs, which dtypes it computes on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dtype/dtype.h"
#include "weightmap/device.hpp"

namespace wm {

// The host CPU: reads host memory in place, any dtype.
DeviceCaps cpu_device_caps();
// The in-process stand-in for a discrete accelerator: own memory, no host
// pointers, 256-byte alignment like CUDA allocations.
DeviceCaps sim_device_caps();

// The name GPU `ordinal` goes by in device rules: "cuda" for 0, "cuda:N"
// otherwise; and back (cuda_ordinal also reads "cuda:0", which is not
// GPU 0's name, so that a rule naming it can be refused with the reason).
std::string cuda_device_name(int ordinal);
std::optional<int> cuda_ordinal(std::string_view name);

}  // namespace wm
