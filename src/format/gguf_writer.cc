#include "format/gguf_writer.h"

#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "format/gguf_reader.h"

namespace wm {
namespace {

// Serialises the header into memory; headers are small.
class HeaderBytes {
 public:
  template <class T>
  void put(T v) {
    append(&v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    append(s.data(), s.size());
  }
  // resize + memcpy rather than insert: GCC 12 warns falsely on the latter.
  void append(const void* p, size_t n) {
    size_t at = bytes.size();
    bytes.resize(at + n);
    if (n) std::memcpy(bytes.data() + at, p, n);
  }
  void put_value(const MetaValue& v) {
    switch (v.type) {
      case MetaType::U8: case MetaType::BOOL: put<uint8_t>(static_cast<uint8_t>(std::get<uint64_t>(v.v))); break;
      case MetaType::I8: put<int8_t>(static_cast<int8_t>(std::get<int64_t>(v.v))); break;
      case MetaType::U16: put<uint16_t>(static_cast<uint16_t>(std::get<uint64_t>(v.v))); break;
      case MetaType::I16: put<int16_t>(static_cast<int16_t>(std::get<int64_t>(v.v))); break;
      case MetaType::U32: put<uint32_t>(static_cast<uint32_t>(std::get<uint64_t>(v.v))); break;
      case MetaType::I32: put<int32_t>(static_cast<int32_t>(std::get<int64_t>(v.v))); break;
      case MetaType::U64: put<uint64_t>(std::get<uint64_t>(v.v)); break;
      case MetaType::I64: put<int64_t>(std::get<int64_t>(v.v)); break;
      case MetaType::F32: put<float>(static_cast<float>(std::get<double>(v.v))); break;
      case MetaType::F64: put<double>(std::get<double>(v.v)); break;
      case MetaType::STRING: put_string(std::get<std::string>(v.v)); break;
      case MetaType::ARRAY: {
        const auto& items = std::get<std::vector<MetaValue>>(v.v);
        put<uint32_t>(static_cast<uint32_t>(v.elem_type));
        put<uint64_t>(items.size());
        for (const auto& item : items) put_value(item);
        break;
      }
    }
  }
  std::vector<std::byte> bytes;
};

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Why `v` cannot be written as GGUF (its variant does not hold what its type
// says, an integer out of its type's range, an array item of another type
// than the array's), or empty. put_value() relies on this having passed.
std::string invalid_value(const MetaValue& v) {
  auto unsigned_max = [](MetaType t) -> uint64_t {
    switch (t) {
      case MetaType::U8: return UINT8_MAX;
      case MetaType::U16: return UINT16_MAX;
      case MetaType::U32: return UINT32_MAX;
      case MetaType::BOOL: return 1;
      default: return UINT64_MAX;
    }
  };
  auto signed_range = [](MetaType t) -> std::pair<int64_t, int64_t> {
    switch (t) {
      case MetaType::I8: return {INT8_MIN, INT8_MAX};
      case MetaType::I16: return {INT16_MIN, INT16_MAX};
      case MetaType::I32: return {INT32_MIN, INT32_MAX};
      default: return {INT64_MIN, INT64_MAX};
    }
  };
  const char* name = meta_type_name(v.type);
  switch (v.type) {
    case MetaType::U8: case MetaType::U16: case MetaType::U32: case MetaType::U64: case MetaType::BOOL: {
      const auto* x = std::get_if<uint64_t>(&v.v);
      if (!x) return fmt::format("a {} value must hold an unsigned integer", name);
      if (*x > unsigned_max(v.type)) return fmt::format("{} is out of range for {}", *x, name);
      return {};
    }
    case MetaType::I8: case MetaType::I16: case MetaType::I32: case MetaType::I64: {
      const auto* x = std::get_if<int64_t>(&v.v);
      if (!x) return fmt::format("a {} value must hold a signed integer", name);
      auto [lo, hi] = signed_range(v.type);
      if (*x < lo || *x > hi) return fmt::format("{} is out of range for {}", *x, name);
      return {};
    }
    case MetaType::F32: case MetaType::F64:
      return std::holds_alternative<double>(v.v) ? std::string{} : fmt::format("a {} value must hold a double", name);
    case MetaType::STRING:
      return std::holds_alternative<std::string>(v.v) ? std::string{} : "a string value must hold a string";
    case MetaType::ARRAY: {
      const auto* items = std::get_if<std::vector<MetaValue>>(&v.v);
      if (!items) return "an array value must hold items";
      if (v.is_summary()) return "an array read without its items (a summary) cannot be written";
      if (static_cast<uint32_t>(v.elem_type) >= kMetaTypeCount)
        return fmt::format("unknown array element type {}", static_cast<uint32_t>(v.elem_type));
      for (size_t k = 0; k < items->size(); ++k) {
        const MetaValue& item = (*items)[k];
        if (item.type != v.elem_type)
          return fmt::format("array item {} has type {} in an array of {}", k, meta_type_name(item.type),
                             meta_type_name(v.elem_type));
        if (std::string why = invalid_value(item); !why.empty()) return fmt::format("array item {}: {}", k, why);
      }
      return {};
    }
  }
  return fmt::format("unknown value type {}", static_cast<uint32_t>(v.type));
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version, uint32_t alignment) : version_(version), alignment_(alignment) {
  if (alignment_ != kGgufDefaultAlignment)
    metadata_.emplace_back("general.alignment", MetaValue::u(MetaType::U32, alignment_));
}

void GgufWriter::add_metadata(std::string key, MetaValue value) {
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, TensorData data) {
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(data)});
}

Result<TensorFileLayout> GgufWriter::layout(const std::string& path) const {
  // Refuse anything that would give a file parse_gguf() rejects or misreads.
  if (version_ != 2 && version_ != 3)
    return Error{path, {}, {}, fmt::format("cannot write GGUF version {}; expected 2 or 3", version_)};
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
    return Error{path, {}, {}, fmt::format("alignment {} is not a power of two", alignment_)};
  std::unordered_set<std::string_view> seen;
  for (const auto& [key, value] : metadata_) {
    if (!seen.insert(key).second) return Error{path, {}, {}, fmt::format("duplicate metadata key '{}'", key)};
    if (std::string why = invalid_value(value); !why.empty())
      return Error{path, {}, {}, fmt::format("metadata key '{}': {}", key, why)};
    if (key == "general.alignment" && value != MetaValue::u(MetaType::U32, alignment_))
      return Error{path, {}, {},
                   fmt::format("general.alignment {} disagrees with the writer's alignment {} (u32); set it "
                               "through the constructor",
                               meta_to_string(value), alignment_)};
  }
  seen.clear();
  for (const auto& t : tensors_)
    if (!seen.insert(t.name).second) return Error{path, t.name, {}, "duplicate tensor name"};

  TensorFileLayout layout;
  layout.alignment = alignment_;
  HeaderBytes h;
  h.put<uint32_t>(kGgufMagic);
  h.put<uint32_t>(version_);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    h.put_string(key);
    h.put<uint32_t>(static_cast<uint32_t>(value.type));
    h.put_value(value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    const DTypeInfo& info = dtype_info(t.dtype);
    if (info.gguf_id < 0) return Error{path, t.name, {}, fmt::format("GGUF has no type {}", info.name)};
    if (t.shape.size() > kGgufMaxDims)
      return Error{path, t.name, {}, fmt::format("{} dimensions; GGUF allows at most {}", t.shape.size(), kGgufMaxDims)};
    SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
    if (!size.nbytes) return Error{path, t.name, {}, size.reason};
    if (t.data.fill)
      if (Status s = check_tensor_data_size(t.data, *size.nbytes, path, t.name); !s) return s.error();
    h.put_string(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) h.put<int64_t>(static_cast<int64_t>(*it));
    h.put<uint32_t>(static_cast<uint32_t>(info.gguf_id));
    h.put<uint64_t>(offset);
    layout.names.push_back(t.name);
    layout.sizes.push_back(*size.nbytes);
    offset = align_up(offset + *size.nbytes, alignment_);
  }
  h.bytes.resize(align_up(h.bytes.size(), alignment_));  // the data section starts aligned
  layout.header = std::move(h.bytes);
  return layout;
}

Result<TensorStreamWriter> GgufWriter::open_stream(const std::string& path) const {
  auto l = layout(path);
  if (!l) return l.error();
  return TensorStreamWriter::create(path, std::move(l.value()));
}

Status GgufWriter::write(const std::string& path) const {
  auto w = open_stream(path);
  if (!w) return w.error();
  std::vector<const TensorData*> data;
  for (const auto& t : tensors_) data.push_back(&t.data);
  return write_tensors_and_commit(*w, data);
}

}  // namespace wm
