// What a Python Model and every array taken from it share: the wm::Model,
// the lock that keeps LoRA changes away from readers, and the count of live
// zero-copy arrays. The last owner (the Model object or an array) releases
// the model, so a view never outlives its bytes.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include <Python.h>

#include <weightmap/model.hpp>

namespace wmpy {

class ModelState {
 public:
  explicit ModelState(wm::Model model) : model_(std::move(model)) {}
  // Releases the model with the GIL released: a background prefetch thread
  // may be waiting for the GIL to log, and release() joins it.
  ~ModelState();
  ModelState(const ModelState&) = delete;
  ModelState& operator=(const ModelState&) = delete;

  // Readers (tensor bytes, names, metadata) hold `lock()` shared, LoRA
  // apply/remove exclusive (wm::Model's rule). Take it with the GIL
  // released (see SharedAccess / ExclusiveAccess below).
  std::shared_mutex& lock() { return lock_; }
  wm::Model& model() { return model_; }
  // The log callback open() was given, for LoRA steps later (may be empty).
  wm::LogCallback log;
  // The Python callable behind `log` (borrowed: `log` holds it), shown to
  // the cyclic GC so that a callback referring back to its Model is freed.
  PyObject* log_object = nullptr;

  // Zero-copy arrays alive, by tensor index.
  void array_taken(size_t tensor);
  void array_gone(size_t tensor);
  // "" when none is alive; otherwise a message naming up to 5 tensors and the count.
  std::string live_arrays_message() const;
  size_t live_arrays() const;

 private:
  wm::Model model_;
  std::shared_mutex lock_;
  mutable std::mutex live_mu_;
  std::unordered_map<size_t, size_t> live_;  // tensor -> arrays
  size_t live_total_ = 0;
};

// The lock taken without holding the GIL (another thread holding it
// exclusive may need the GIL to log), then the GIL taken back.
class SharedAccess {
 public:
  explicit SharedAccess(ModelState& s);
 private:
  std::shared_lock<std::shared_mutex> lock_;
};
class ExclusiveAccess {
 public:
  explicit ExclusiveAccess(ModelState& s);
 private:
  std::unique_lock<std::shared_mutex> lock_;
};

}  // namespace wmpy
