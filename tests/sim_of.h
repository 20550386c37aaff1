// The sim device behind a loaded model (device 1), for tests that check what
// reached it: bytes allocated and uploaded, or what a kernel would read.
#pragma once

#include "device/sim_device.h"
#include "load/loaded_model.h"

namespace wm::test {

inline SimDevice& sim_of(const LoadedModel& model) { return dynamic_cast<SimDevice&>(model.device(1)); }

}  // namespace wm::test
