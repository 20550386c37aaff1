// Devices a device rule may name without the engine passing them: "cuda"
// and "cuda:N" are made here, once per load, when a rule names them and
// Options::devices has none of that name.
#pragma once

#include <memory>
#include <vector>

#include "plan/name_rules.h"
#include "weightmap/device.hpp"

namespace wm {

// Appends to `devices` each GPU the rules name that is not there yet.
// Fails as make_cuda_device does (not built in, no driver, no such GPU).
Status add_named_devices(const NameRules& rules, std::vector<std::shared_ptr<Device>>& devices);

}  // namespace wm
