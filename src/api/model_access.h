// The library's way into a public wm::Model: its LoadedModel, and making a
// Model from one. Internal (the CLI's diagnostics use it too); engines see
// only weightmap/model.hpp.
#pragma once

#include <memory>

#include "load/loaded_model.h"
#include "weightmap/model.hpp"

namespace wm {

struct Model::Impl {
  LoadedModel loaded;
};

struct ModelAccess {
  static Model wrap(LoadedModel loaded) { return Model(std::make_unique<Model::Impl>(Model::Impl{std::move(loaded)})); }
  // REQUIRES: !model.released() (a released Model has no LoadedModel).
  static LoadedModel& loaded(Model& model) { return model.impl_->loaded; }
  static const LoadedModel& loaded(const Model& model) { return model.impl_->loaded; }
};

}  // namespace wm
