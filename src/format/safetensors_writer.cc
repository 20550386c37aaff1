#include "format/safetensors_writer.h"

#include <algorithm>
#include <fmt/format.h>
#include <unordered_set>

#include "common/json_writer.h"
#include "io/atomic_file.h"

namespace wm {

void SafetensorsWriter::add_metadata(std::string key, std::string value) {
  metadata_.emplace_back(std::move(key), std::move(value));
}

void SafetensorsWriter::add_tensor(std::string name, DType dtype, std::vector<uint64_t> shape, TensorData data) {
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(data)});
}

Status SafetensorsWriter::write(const std::string& path) const {
  JsonWriter j;
  j.begin_object();
  if (!metadata_.empty()) {
    j.key("__metadata__").begin_object();
    for (const auto& [k, v] : metadata_) j.key(k).value(v);
    j.end_object();
  }
  std::vector<uint64_t> sizes;
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
    if (Status s = check_tensor_data_size(t.data, *size.nbytes, path, t.name); !s) return s;
    j.key(t.name).begin_object();
    j.key("dtype").value(info.name);
    j.key("shape").begin_array();
    for (uint64_t d : t.shape) j.value(d);
    j.end_array();
    j.key("data_offsets").begin_array().value(offset).value(offset + *size.nbytes).end_array();
    j.end_object();
    sizes.push_back(*size.nbytes);
    offset += *size.nbytes;
  }
  j.end_object();
  std::string header = j.str();
  header.append((8 - header.size() % 8) % 8, ' ');

  auto out = AtomicFileWriter::create(path);
  if (!out) return out.error();
  uint64_t n = header.size();
  if (Status s = out->write({reinterpret_cast<const std::byte*>(&n), sizeof n}); !s) return s;
  if (Status s = out->write({reinterpret_cast<const std::byte*>(header.data()), header.size()}); !s) return s;
  std::vector<std::byte> chunk;
  for (size_t k = 0; k < tensors_.size(); ++k)
    if (Status s = write_tensor_data(*out, tensors_[k].data, sizes[k], chunk); !s) return s;
  return out->commit();
}

}  // namespace wm
