// weightmap._native.Model: the Python object behind weightmap.Model. It
// holds a shared ModelState; close() drops its share, arrays keep theirs.
#pragma once

#include <memory>
#include <string>

#include <nanobind/nanobind.h>

#include "model_state.h"

namespace wmpy {

class NativeModel {
 public:
  explicit NativeModel(std::shared_ptr<ModelState> state) : state_(std::move(state)) {}

  // The state, or weightmap.Error("invalid_argument") when closed.
  std::shared_ptr<ModelState> state() const;
  bool closed() const { return !state_; }
  void close() { state_.reset(); }
  // The log callable, when this object alone holds the state (no array, no
  // call in flight): only then is the callable reachable through it alone.
  PyObject* sole_log_object() const { return state_ && state_.use_count() == 1 ? state_->log_object : nullptr; }

 private:
  std::shared_ptr<ModelState> state_;
};

void bind_model(nanobind::module_& m);

}  // namespace wmpy
