// File-level metadata: GGUF key/value pairs (every GGUF value type, arrays
// nested to any depth) and safetensors `__metadata__` (strings only).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace wm {

// GGUF's value type ids, in GGUF's numbering.
enum class MetaType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kMetaTypeCount = 13;

const char* meta_type_name(MetaType t);

struct MetaValue {
  MetaType type = MetaType::U8;
  MetaType elem_type = MetaType::U8;  // arrays only
  // Unsigned integers and bools in u, signed in i, floats in f, strings in s,
  // arrays in items (each with type == elem_type).
  std::variant<uint64_t, int64_t, double, std::string, std::vector<MetaValue>> v;
  uint64_t length = 0;  // arrays: items in the file (items.size(), unless summarised)

  static MetaValue u(MetaType t, uint64_t x) { return {t, MetaType::U8, x}; }
  static MetaValue i(MetaType t, int64_t x) { return {t, MetaType::U8, x}; }
  static MetaValue f(MetaType t, double x) { return {t, MetaType::U8, x}; }
  static MetaValue str(std::string x) { return {MetaType::STRING, MetaType::U8, std::move(x)}; }
  static MetaValue array(MetaType elem, std::vector<MetaValue> xs) {
    uint64_t n = xs.size();
    return {MetaType::ARRAY, elem, std::move(xs), n};
  }
  // An array whose items were not kept, only its element type and length.
  static MetaValue array_summary(MetaType elem, uint64_t n) { return {MetaType::ARRAY, elem, std::vector<MetaValue>{}, n}; }
  bool is_summary() const {
    return type == MetaType::ARRAY && std::get<std::vector<MetaValue>>(v).size() != length;
  }
  bool operator==(const MetaValue&) const = default;
};

using Metadata = std::vector<std::pair<std::string, MetaValue>>;

// A value as text: numbers and strings as such, arrays as [a, b, ...] with at
// most `max_items` items shown per array.
std::string meta_to_string(const MetaValue& v, size_t max_items = 8);

}  // namespace wm
