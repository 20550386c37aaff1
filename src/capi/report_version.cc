// The load report as JSON text, and the library's version.
#include <cstdlib>
#include <cstring>
#include <string>

#include "capi/capi.h"
#include "weightmap/version.hpp"

using wm::capi::check_model;
using wm::capi::guarded;
using wm::capi::null_argument;

extern "C" {

wm_status wm_model_report_json(const wm_model* model, int per_tensor, char** json) {
  if (json) *json = nullptr;
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_report_json"); s != WM_OK) return s;
    if (!json) return null_argument("wm_model_report_json", "json");
    const std::string text = model->model.report_json(per_tensor != 0);
    auto* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (!out) throw std::bad_alloc();
    std::memcpy(out, text.c_str(), text.size() + 1);
    *json = out;
    return WM_OK;
  });
}

const char* wm_version(void) { return wm::version(); }

int32_t wm_version_number(void) { return WEIGHTMAP_VERSION; }

}  // extern "C"
