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

 private:
  std::shared_ptr<ModelState> state_;
};

void bind_model(nanobind::module_& m);

}  // namespace wmpy
