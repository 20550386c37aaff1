// What a compute device can do, as the planner needs to know it: can it read
// host memory in place (then a mapped tensor needs no copy), what alignment
// its tensor data needs, which dtypes it computes on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtype/dtype.h"

namespace wm {

struct DeviceCaps {
  std::string name;
  bool reads_host_memory = false;
  uint32_t alignment = 1;      // tensor data addresses must be multiples of this
  std::vector<DType> dtypes;   // dtypes it takes; empty = every dtype

  bool accepts(DType t) const;
  // The alignment a tensor of dtype `t` needs on this device: the device's
  // own, raised to the dtype's natural alignment so element loads are legal.
  uint32_t required_alignment(DType t) const;
};

// The host CPU: reads host memory in place, any dtype.
DeviceCaps cpu_device_caps();
// The in-process stand-in for a discrete accelerator: own memory, no host
// pointers, 256-byte alignment like CUDA allocations.
DeviceCaps sim_device_caps();

}  // namespace wm
