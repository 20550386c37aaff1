// weightmap: load model weights through memory mapping. The whole C++ API:
// open a model (model.hpp) with options (options.hpp), read its tensors
// (tensor.hpp), plug in a device (device.hpp), apply LoRAs (lora.hpp), read
// what the load did (report.hpp). Compiles as C++17 and later.
#pragma once

#include "weightmap/device.hpp"
#include "weightmap/dtype.hpp"
#include "weightmap/error.hpp"
#include "weightmap/log.hpp"
#include "weightmap/lora.hpp"
#include "weightmap/model.hpp"
#include "weightmap/options.hpp"
#include "weightmap/page_cache.hpp"
#include "weightmap/report.hpp"
#include "weightmap/tensor.hpp"
#include "weightmap/version.hpp"
