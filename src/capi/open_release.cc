// Opening and releasing a model, and the calls on the model as a whole.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "capi/capi.h"
#include "capi/options.h"

using wm::capi::check_model;
using wm::capi::fail;
using wm::capi::guarded;
using wm::capi::null_argument;

extern "C" {

wm_status wm_model_open(const char* const* paths, size_t n_paths, const wm_options* options, wm_model** model) {
  if (model) *model = nullptr;
  return guarded([&] {
    if (!model) return null_argument("wm_model_open", "model");
    if (!paths) return null_argument("wm_model_open", "paths");
    if (n_paths == 0) return fail(WM_ERR_INVALID_ARGUMENT, "wm_model_open: no paths (n_paths is 0)");
    std::vector<std::string> files;
    for (size_t i = 0; i < n_paths; ++i) {
      if (!paths[i]) return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_model_open: paths[{}] is NULL", i));
      files.emplace_back(paths[i]);
    }
    wm::Options o;
    if (wm_status s = wm::capi::to_options(options, o); s != WM_OK) return s;
    auto opened = wm::open(files, o);
    if (!opened) return fail(opened.error());
    auto handle = std::make_unique<wm_model>();
    handle->model = std::move(opened.value());
    handle->metadata_keys = handle->model.metadata_keys();
    *model = handle.release();
    return WM_OK;
  });
}

wm_status wm_model_release(wm_model* model, int evict) {
  return guarded([&] {
    if (!model) return WM_OK;
    std::unique_ptr<wm_model> owned(model);
    wm::Status s = owned->model.release(evict != 0);
    if (!s) return fail(s.error());
    return WM_OK;
  });
}

wm_status wm_model_tensor_count(const wm_model* model, size_t* count) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_tensor_count"); s != WM_OK) return s;
    if (!count) return null_argument("wm_model_tensor_count", "count");
    *count = model->model.size();
    return WM_OK;
  });
}

wm_status wm_model_find(const wm_model* model, const char* name, size_t* index) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_find"); s != WM_OK) return s;
    if (!name) return null_argument("wm_model_find", "name");
    if (!index) return null_argument("wm_model_find", "index");
    auto found = model->model.index_of(name);
    if (!found) {
      wm::Error e;
      e.code = wm::ErrorCode::kNotFound;
      e.tensor = name;
      e.message = "no tensor of that name in the model";
      return fail(e);
    }
    *index = *found;
    return WM_OK;
  });
}

wm_status wm_model_wait_ready(const wm_model* model, size_t index) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_wait_ready"); s != WM_OK) return s;
    wm::Status s = model->model.wait_ready(index);
    if (!s) return fail(s.error());
    return WM_OK;
  });
}

wm_status wm_model_generation(const wm_model* model, uint64_t* generation) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_generation"); s != WM_OK) return s;
    if (!generation) return null_argument("wm_model_generation", "generation");
    *generation = model->model.generation();
    return WM_OK;
  });
}

wm_status wm_model_check_files(const wm_model* model) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_check_files"); s != WM_OK) return s;
    wm::Status s = model->model.check_files();
    if (!s) return fail(s.error());
    return WM_OK;
  });
}

}  // extern "C"
