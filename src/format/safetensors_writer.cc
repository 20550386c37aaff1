#include "format/safetensors_writer.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <unordered_set>

#include "common/json_writer.h"

namespace wm {

void SafetensorsWriter::add_metadata(std::string key, std::string value) {
  metadata_.emplace_back(std::move(key), std::move(value));
}

void SafetensorsWriter::add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, TensorData data) {
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(data)});
}

Result<TensorFileLayout> SafetensorsWriter::layout(const std::string& path) const {
  JsonWriter j;
  j.begin_object();
  if (!metadata_.empty()) {
    j.key("__metadata__").begin_object();
    for (const auto& [k, v] : metadata_) j.key(k).value(v);
    j.end_object();
  }
  TensorFileLayout layout;
  uint64_t offset = 0;
  std::unordered_set<std::string_view> names;
  for (const auto& t : tensors_) {
    // A header with a key twice (or a tensor called __metadata__) is not a
    // valid safetensors file.
    if (t.name == "__metadata__") return Error{path, t.name, {}, "the name __metadata__ is reserved for metadata"};
    if (!names.insert(t.name).second) return Error{path, t.name, {}, "duplicate tensor name"};
    const DTypeInfo& info = dtype_info(t.dtype);
    if (!info.in_safetensors) return Error{path, t.name, {}, fmt::format("safetensors has no dtype {}", info.name)};
    SizeOrReason size = tensor_nbytes(t.dtype, t.shape);
    if (!size.nbytes) return Error{path, t.name, {}, size.reason};
    if (t.data.fill)
      if (Status s = check_tensor_data_size(t.data, *size.nbytes, path, t.name); !s) return s.error();
    j.key(t.name).begin_object();
    j.key("dtype").value(info.name);
    j.key("shape").begin_array();
    for (uint64_t d : t.shape) j.value(d);
    j.end_array();
    j.key("data_offsets").begin_array().value(offset).value(offset + *size.nbytes).end_array();
    j.end_object();
    layout.names.push_back(t.name);
    layout.sizes.push_back(*size.nbytes);
    offset += *size.nbytes;
  }
  j.end_object();
  std::string header = j.str();
  header.append((8 - header.size() % 8) % 8, ' ');
  uint64_t n = header.size();  // little-endian, as the format says (and every host we build for is)
  layout.header.resize(sizeof n + header.size());
  std::memcpy(layout.header.data(), &n, sizeof n);
  std::memcpy(layout.header.data() + sizeof n, header.data(), header.size());
  return layout;
}

Result<TensorStreamWriter> SafetensorsWriter::open_stream(const std::string& path) const {
  auto l = layout(path);
  if (!l) return l.error();
  return TensorStreamWriter::create(path, std::move(l.value()));
}

Status SafetensorsWriter::write(const std::string& path) const {
  auto w = open_stream(path);
  if (!w) return w.error();
  std::vector<const TensorData*> data;
  for (const auto& t : tensors_) data.push_back(&t.data);
  return write_tensors_and_commit(*w, data);
}

}  // namespace wm
