// A model's metadata (GGUF key/values, safetensors __metadata__) as a dict
// of Python values.
#pragma once

#include <nanobind/nanobind.h>

#include <weightmap/model.hpp>

namespace wmpy {

// bool, int, float, str, or a list of those; other values (nested arrays,
// arrays dropped with metadata_arrays=False) as the library's text.
nanobind::dict metadata_dict(const wm::Model& model);

}  // namespace wmpy
