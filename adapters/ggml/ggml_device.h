// What Weights needs to know about the devices make_device() makes: the
// ggml backend buffer behind a DeviceBuffer.
#pragma once

#include <ggml-backend.h>

#include "weightmap/device.hpp"

namespace wm::ggml {

// The backend buffer holding `buffer` when `device` is a make_device()
// device; nullptr for any other device.
ggml_backend_buffer_t backend_buffer_of(const Device& device, const DeviceBuffer& buffer);

}  // namespace wm::ggml
