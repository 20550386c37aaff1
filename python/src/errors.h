// How the native module turns weightmap's errors into Python exceptions:
// C++ code throws PyError (a wm::Error, or a Python-only code such as
// "busy"); the translator registered in module.cc builds the exception
// through weightmap._errors so that the classes live in Python.
#pragma once

#include <string>

#include <weightmap/error.hpp>

namespace wmpy {

struct PyError {
  wm::Error error;
  std::string code;  // wm::error_code_name(error.code), or "busy"
};

[[noreturn]] void throw_error(const wm::Error& e);
[[noreturn]] void throw_busy(std::string message);

// Throws the Status's error unless it is ok.
inline void check(const wm::Status& s) {
  if (!s) throw_error(s.error());
}

void register_error_translator();

}  // namespace wmpy
