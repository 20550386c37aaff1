// weightmap._native's functions: open(paths, options) -> Model,
// page_cache(action, paths) -> list[dict], version() -> str.
#pragma once

#include <nanobind/nanobind.h>

namespace wmpy {

void bind_functions(nanobind::module_& m);

}  // namespace wmpy
