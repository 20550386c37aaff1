// Typed metadata getters. The C++ getters return values; the C ones hand
// out pointers, so each converted value is kept in the handle's cache until
// release. Absent keys and keys of another type are told apart through
// metadata_text (present whatever the type).
#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>

#include "capi/capi.h"

using wm::capi::check_model;
using wm::capi::fail;
using wm::capi::guarded;
using wm::capi::null_argument;

namespace {

using Cached = wm_model::CachedValue;

// NOT_FOUND when `key` is absent, else WRONG_TYPE (wanted: "an integer"...).
wm_status missing_or_wrong(const wm_model* model, const char* key, const char* wanted) {
  auto text = model->model.metadata_text(key);
  if (!text) return fail(WM_ERR_NOT_FOUND, fmt::format("metadata key '{}' is not in the model", key));
  return fail(WM_ERR_WRONG_TYPE, fmt::format("metadata key '{}' is not {} (its value: {})", key, wanted,
                                             text->size() > 80 ? text->substr(0, 77) + "..." : *text));
}

// The cached value of (kind, key), made by `make` (returning false when
// the key is absent or of another type) the first time.
template <class Make>
const Cached* cached(const wm_model* model, char kind, const char* key, Make&& make) {
  std::string id(1, kind);
  id += '\0';
  id += key;
  std::lock_guard lock(model->cache_mutex);
  auto it = model->cache.find(id);
  if (it != model->cache.end()) return it->second.get();
  auto value = std::make_unique<Cached>();
  if (!make(*value)) return nullptr;
  return model->cache.emplace(std::move(id), std::move(value)).first->second.get();
}

// The common shape of every getter: arguments, then a lookup.
template <class F>
wm_status getter(const wm_model* model, const char* key, const void* out, const char* function, F&& body) {
  return guarded([&] {
    if (wm_status s = check_model(model, function); s != WM_OK) return s;
    if (!key) return null_argument(function, "key");
    if (!out) return null_argument(function, "value");
    return body();
  });
}

}  // namespace

extern "C" {

wm_status wm_model_metadata_count(const wm_model* model, size_t* count) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_metadata_count"); s != WM_OK) return s;
    if (!count) return null_argument("wm_model_metadata_count", "count");
    *count = model->metadata_keys.size();
    return WM_OK;
  });
}

wm_status wm_model_metadata_key(const wm_model* model, size_t index, const char** key) {
  return guarded([&] {
    if (wm_status s = check_model(model, "wm_model_metadata_key"); s != WM_OK) return s;
    if (!key) return null_argument("wm_model_metadata_key", "key");
    if (index >= model->metadata_keys.size())
      return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_model_metadata_key: index {} is out of range ({} keys)", index,
                                                model->metadata_keys.size()));
    *key = model->metadata_keys[index].c_str();
    return WM_OK;
  });
}

wm_status wm_model_metadata_int(const wm_model* model, const char* key, int64_t* value) {
  return getter(model, key, value, "wm_model_metadata_int", [&] {
    auto v = model->model.metadata_int(key);
    if (!v) return missing_or_wrong(model, key, "an integer that fits int64");
    *value = *v;
    return WM_OK;
  });
}

wm_status wm_model_metadata_double(const wm_model* model, const char* key, double* value) {
  return getter(model, key, value, "wm_model_metadata_double", [&] {
    auto v = model->model.metadata_float(key);
    if (!v) return missing_or_wrong(model, key, "a number");
    *value = *v;
    return WM_OK;
  });
}

// wm::Model has no bool getter: a bool is the value whose text is
// "true"/"false" and that is not a string.
wm_status wm_model_metadata_bool(const wm_model* model, const char* key, int* value) {
  return getter(model, key, value, "wm_model_metadata_bool", [&] {
    auto text = model->model.metadata_text(key);
    if (text && !model->model.metadata_string(key) && (*text == "true" || *text == "false")) {
      *value = *text == "true" ? 1 : 0;
      return WM_OK;
    }
    return missing_or_wrong(model, key, "a bool");
  });
}

wm_status wm_model_metadata_string(const wm_model* model, const char* key, const char** value) {
  return getter(model, key, value, "wm_model_metadata_string", [&] {
    const Cached* c = cached(model, 's', key, [&](Cached& out) {
      auto v = model->model.metadata_string(key);
      if (v) out.text = std::move(*v);
      return v.has_value();
    });
    if (!c) return missing_or_wrong(model, key, "a string");
    *value = c->text.c_str();
    return WM_OK;
  });
}

wm_status wm_model_metadata_text(const wm_model* model, const char* key, const char** value) {
  return getter(model, key, value, "wm_model_metadata_text", [&] {
    const Cached* c = cached(model, 't', key, [&](Cached& out) {
      auto v = model->model.metadata_text(key);
      if (v) out.text = std::move(*v);
      return v.has_value();
    });
    if (!c) return fail(WM_ERR_NOT_FOUND, fmt::format("metadata key '{}' is not in the model", key));
    *value = c->text.c_str();
    return WM_OK;
  });
}

wm_status wm_model_metadata_int_array(const wm_model* model, const char* key, const int64_t** values,
                                      size_t* count) {
  return getter(model, key, values, "wm_model_metadata_int_array", [&] {
    if (!count) return null_argument("wm_model_metadata_int_array", "count");
    const Cached* c = cached(model, 'i', key, [&](Cached& out) {
      auto v = model->model.metadata_ints(key);
      if (v) out.ints = std::move(*v);
      return v.has_value();
    });
    if (!c) return missing_or_wrong(model, key, "an array of integers (kept: metadata_arrays)");
    *values = c->ints.data();
    *count = c->ints.size();
    return WM_OK;
  });
}

wm_status wm_model_metadata_double_array(const wm_model* model, const char* key, const double** values,
                                         size_t* count) {
  return getter(model, key, values, "wm_model_metadata_double_array", [&] {
    if (!count) return null_argument("wm_model_metadata_double_array", "count");
    const Cached* c = cached(model, 'd', key, [&](Cached& out) {
      auto v = model->model.metadata_floats(key);
      if (v) out.doubles = std::move(*v);
      return v.has_value();
    });
    if (!c) return missing_or_wrong(model, key, "an array of numbers (kept: metadata_arrays)");
    *values = c->doubles.data();
    *count = c->doubles.size();
    return WM_OK;
  });
}

wm_status wm_model_metadata_string_array(const wm_model* model, const char* key, const char* const** values,
                                         size_t* count) {
  return getter(model, key, values, "wm_model_metadata_string_array", [&] {
    if (!count) return null_argument("wm_model_metadata_string_array", "count");
    const Cached* c = cached(model, 'S', key, [&](Cached& out) {
      auto v = model->model.metadata_strings(key);
      if (!v) return false;
      out.strings = std::move(*v);
      for (const std::string& s : out.strings) out.string_ptrs.push_back(s.c_str());
      return true;
    });
    if (!c) return missing_or_wrong(model, key, "an array of strings (kept: metadata_arrays)");
    *values = c->string_ptrs.data();
    *count = c->string_ptrs.size();
    return WM_OK;
  });
}

}  // extern "C"
