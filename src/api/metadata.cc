// wm::Model's typed metadata lookups over every file's key/values.
#include <limits>
#include <set>

#include "api/model_access.h"
#include "format/metadata.h"

namespace wm {
namespace {

const MetaValue* find_value(const Model& model, std::string_view key) {
  if (model.released()) return nullptr;
  for (const FileInfo& f : ModelAccess::loaded(model).table().files())
    for (const auto& [k, v] : f.metadata)
      if (k == key) return &v;
  return nullptr;
}

bool is_unsigned(MetaType t) {
  return t == MetaType::U8 || t == MetaType::U16 || t == MetaType::U32 || t == MetaType::U64 || t == MetaType::BOOL;
}
bool is_signed(MetaType t) {
  return t == MetaType::I8 || t == MetaType::I16 || t == MetaType::I32 || t == MetaType::I64;
}
bool is_float(MetaType t) { return t == MetaType::F32 || t == MetaType::F64; }

std::optional<int64_t> as_int(const MetaValue& v) {
  if (is_signed(v.type)) return std::get<int64_t>(v.v);
  if (is_unsigned(v.type)) {
    uint64_t u = std::get<uint64_t>(v.v);
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  return std::nullopt;
}

std::optional<double> as_float(const MetaValue& v) {
  if (is_float(v.type)) return std::get<double>(v.v);
  if (is_signed(v.type)) return static_cast<double>(std::get<int64_t>(v.v));
  if (is_unsigned(v.type)) return static_cast<double>(std::get<uint64_t>(v.v));
  return std::nullopt;
}

std::optional<std::string> as_string(const MetaValue& v) {
  if (v.type != MetaType::STRING) return std::nullopt;
  return std::get<std::string>(v.v);
}

// An array whose every item converts; nullopt for other values and for
// arrays whose items were not kept (OpenOptions::metadata_arrays off).
template <class T, class F>
std::optional<std::vector<T>> as_array(const MetaValue* v, F item) {
  if (!v || v->type != MetaType::ARRAY || v->is_summary()) return std::nullopt;
  std::vector<T> out;
  for (const MetaValue& x : std::get<std::vector<MetaValue>>(v->v)) {
    auto converted = item(x);
    if (!converted) return std::nullopt;
    out.push_back(std::move(*converted));
  }
  return out;
}

}  // namespace

std::vector<std::string> Model::metadata_keys() const {
  std::vector<std::string> keys;
  if (released()) return keys;
  std::set<std::string, std::less<>> seen;
  for (const FileInfo& f : ModelAccess::loaded(*this).table().files())
    for (const auto& [k, v] : f.metadata)
      if (seen.insert(k).second) keys.push_back(k);
  return keys;
}

std::optional<int64_t> Model::metadata_int(std::string_view key) const {
  const MetaValue* v = find_value(*this, key);
  return v ? as_int(*v) : std::nullopt;
}

std::optional<double> Model::metadata_float(std::string_view key) const {
  const MetaValue* v = find_value(*this, key);
  return v ? as_float(*v) : std::nullopt;
}

std::optional<std::string> Model::metadata_string(std::string_view key) const {
  const MetaValue* v = find_value(*this, key);
  return v ? as_string(*v) : std::nullopt;
}

std::optional<std::vector<int64_t>> Model::metadata_ints(std::string_view key) const {
  return as_array<int64_t>(find_value(*this, key), as_int);
}

std::optional<std::vector<double>> Model::metadata_floats(std::string_view key) const {
  return as_array<double>(find_value(*this, key), as_float);
}

std::optional<std::vector<std::string>> Model::metadata_strings(std::string_view key) const {
  return as_array<std::string>(find_value(*this, key), as_string);
}

std::optional<std::string> Model::metadata_text(std::string_view key) const {
  const MetaValue* v = find_value(*this, key);
  if (!v) return std::nullopt;
  return meta_to_string(*v, SIZE_MAX);
}

}  // namespace wm
