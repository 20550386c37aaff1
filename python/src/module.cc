// weightmap._native: the extension behind the weightmap package. Only the
// public C++ API (include/weightmap/) is used; the Python side
// (python/weightmap/) gives it its Pythonic shape.
#include <nanobind/nanobind.h>

#include "errors.h"
#include "module_functions.h"
#include "native_model.h"

NB_MODULE(_native, m) {
  m.doc() = "weightmap's native module (use the weightmap package)";
  wmpy::register_error_translator();
  wmpy::bind_model(m);
  wmpy::bind_functions(m);
}
