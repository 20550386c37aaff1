#include "format/metadata.h"

#include <fmt/format.h>

namespace wm {

const char* meta_type_name(MetaType t) {
  static const char* const kNames[kMetaTypeCount] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                     "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < kMetaTypeCount ? kNames[i] : "?";
}

std::string meta_to_string(const MetaValue& v, size_t max_items) {
  switch (v.type) {
    case MetaType::BOOL: return std::get<uint64_t>(v.v) ? "true" : "false";
    case MetaType::U8: case MetaType::U16: case MetaType::U32: case MetaType::U64:
      return fmt::format("{}", std::get<uint64_t>(v.v));
    case MetaType::I8: case MetaType::I16: case MetaType::I32: case MetaType::I64:
      return fmt::format("{}", std::get<int64_t>(v.v));
    case MetaType::F32: case MetaType::F64: return fmt::format("{}", std::get<double>(v.v));
    case MetaType::STRING: return std::get<std::string>(v.v);
    case MetaType::ARRAY: {
      const auto& items = std::get<std::vector<MetaValue>>(v.v);
      if (v.is_summary()) return fmt::format("[{} {} items, not loaded]", v.length, meta_type_name(v.elem_type));
      std::string out = "[";
      for (size_t k = 0; k < items.size() && k < max_items; ++k) {
        if (k) out += ", ";
        out += meta_to_string(items[k], max_items);
      }
      if (items.size() > max_items) out += fmt::format(", ... ({} items)", items.size());
      return out + "]";
    }
  }
  return "?";
}

}  // namespace wm
