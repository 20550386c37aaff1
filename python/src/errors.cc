// wm::Error -> weightmap.Error (or its subclass for the code), built by
// weightmap._errors.from_native so that Python owns the classes.
#include "errors.h"

#include <nanobind/nanobind.h>

namespace nb = nanobind;

namespace wmpy {

void throw_error(const wm::Error& e) { throw PyError{e, wm::error_code_name(e.code)}; }

void throw_busy(std::string message) {
  throw PyError{wm::Error{{}, {}, {}, std::move(message), wm::ErrorCode::kInvalidArgument}, "busy"};
}

namespace {

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const PyError& e) {
    const wm::Error& w = e.error;
    nb::object make = nb::module_::import_("weightmap._errors").attr("from_native");
    nb::object offset = w.offset ? nb::object(nb::int_(*w.offset)) : nb::none();
    nb::object file = w.file.empty() ? nb::none() : nb::object(nb::str(w.file.c_str(), w.file.size()));
    nb::object tensor = w.tensor.empty() ? nb::none() : nb::object(nb::str(w.tensor.c_str(), w.tensor.size()));
    std::string text = w.to_string();
    nb::object exc = make(nb::str(e.code.c_str()), file, tensor, offset,
                          nb::str(w.message.c_str(), w.message.size()), nb::str(text.c_str(), text.size()));
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  }
}

}  // namespace

void register_error_translator() { nb::register_exception_translator(translate); }

}  // namespace wmpy
