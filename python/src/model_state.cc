// ModelState: release without the GIL, live-array bookkeeping, locks taken
// without the GIL.
#include "model_state.h"

#include <algorithm>
#include <vector>

#include <nanobind/nanobind.h>

namespace nb = nanobind;

namespace wmpy {

ModelState::~ModelState() {
  if (PyGILState_Check()) {
    nb::gil_scoped_release unlocked;
    (void)model_.release();  // the release itself always happens; an eviction failure has nowhere to go
  } else {
    (void)model_.release();
  }
}

void ModelState::array_taken(size_t tensor) {
  std::lock_guard g(live_mu_);
  ++live_[tensor];
  ++live_total_;
}

void ModelState::array_gone(size_t tensor) {
  std::lock_guard g(live_mu_);
  auto it = live_.find(tensor);
  if (it == live_.end()) return;
  if (--it->second == 0) live_.erase(it);
  --live_total_;
}

size_t ModelState::live_arrays() const {
  std::lock_guard g(live_mu_);
  return live_total_;
}

std::string ModelState::live_arrays_message() const {
  std::lock_guard g(live_mu_);
  if (live_total_ == 0) return {};
  std::vector<size_t> tensors;
  for (const auto& [t, n] : live_) tensors.push_back(t);
  std::sort(tensors.begin(), tensors.end());
  std::string names;
  for (size_t i = 0; i < tensors.size() && i < 5; ++i) {
    if (i) names += ", ";
    names += "'" + (tensors[i] < model_.size() ? model_.tensor(tensors[i]).name : std::to_string(tensors[i])) + "'";
  }
  if (tensors.size() > 5) names += " and " + std::to_string(tensors.size() - 5) + " more";
  return std::to_string(live_total_) + " array(s) taken from this model are alive (tensors " + names +
         "): a LoRA may rewrite or unmap the bytes they view; delete them first (or take private copies with "
         "get(name, copy=True))";
}

SharedAccess::SharedAccess(ModelState& s) {
  nb::gil_scoped_release unlocked;
  lock_ = std::shared_lock(s.lock());
}

ExclusiveAccess::ExclusiveAccess(ModelState& s) {
  nb::gil_scoped_release unlocked;
  lock_ = std::unique_lock(s.lock());
}

}  // namespace wmpy
