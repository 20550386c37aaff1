// LoRA apply and remove, with the tensors that moved.
#include <fmt/format.h>

#include <vector>

#include "capi/capi.h"
#include "capi/options.h"

using wm::capi::check_model;
using wm::capi::fail;
using wm::capi::guarded;
using wm::capi::null_argument;

namespace {

// Fills the caller's result (the fields its struct_size covers); the index
// arrays are malloc'ed for wm_lora_result_free.
void give_result(wm_lora_result* result, const std::vector<size_t>& moved, const std::vector<size_t>& in_place,
                 const wm::LoraReport* report, uint64_t generation) {
  if (!result) return;
  wm_lora_result out{};
  out.n_moved = moved.size();
  out.n_changed_in_place = in_place.size();
  if (report) {
    out.tensors_patched = report->tensors_patched;
    out.tensors_at_runtime = report->tensors_at_runtime;
    out.unmatched = report->unmatched.size();
  }
  out.generation = generation;
  size_t size = 0;
  std::memcpy(&size, result, sizeof size);
  // Allocate only what the caller's struct can hold, so nothing leaks.
  if (size >= offsetof(wm_lora_result, n_moved) + sizeof out.n_moved) out.moved = wm::capi::copy_indices(moved);
  if (size >= offsetof(wm_lora_result, n_changed_in_place) + sizeof out.n_changed_in_place) {
    try {
      out.changed_in_place = wm::capi::copy_indices(in_place);
    } catch (...) {
      std::free(out.moved);
      throw;
    }
  }
  wm::capi::write_struct(result, out);
}

}  // namespace

extern "C" {

wm_status wm_model_apply_loras(wm_model* model, const wm_lora_spec* loras, size_t n_loras,
                               const wm_lora_options* options, wm_lora_result* result) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_apply_loras"); s != WM_OK) return s;
    if (n_loras > 0 && !loras) return null_argument("wm_model_apply_loras", "loras");
    if (result)
      if (wm_status s = wm::capi::check_out_struct(result, "wm_lora_result"); s != WM_OK) return s;
    std::vector<wm::LoraSpec> specs;
    for (size_t i = 0; i < n_loras; ++i) {
      if (!loras[i].path) return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_model_apply_loras: loras[{}].path is NULL", i));
      specs.push_back(wm::LoraSpec{loras[i].path, loras[i].strength});
    }
    wm::LoraOptions lora_options;
    if (wm_status s = wm::capi::to_lora_options(options, lora_options); s != WM_OK) return s;
    auto applied = model->model.apply_loras(specs, lora_options);
    if (!applied) return fail(applied.error());
    give_result(result, applied->moved, applied->changed_in_place, &applied.value(), model->model.generation());
    return WM_OK;
  });
}

wm_status wm_model_remove_loras(wm_model* model, wm_lora_result* result) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_remove_loras"); s != WM_OK) return s;
    if (result)
      if (wm_status s = wm::capi::check_out_struct(result, "wm_lora_result"); s != WM_OK) return s;
    auto removed = model->model.remove_loras();
    if (!removed) return fail(removed.error());
    give_result(result, removed.value(), {}, nullptr, model->model.generation());
    return WM_OK;
  });
}

void wm_lora_result_free(wm_lora_result* result) {
  if (!result) return;
  size_t size = 0;
  std::memcpy(&size, result, sizeof size);
  if (size >= offsetof(wm_lora_result, n_moved) + sizeof(size_t)) {
    std::free(result->moved);
    result->moved = nullptr;
    result->n_moved = 0;
  }
  if (size >= offsetof(wm_lora_result, n_changed_in_place) + sizeof(size_t)) {
    std::free(result->changed_in_place);
    result->changed_in_place = nullptr;
    result->n_changed_in_place = 0;
  }
}

}  // extern "C"
