#include "format/gguf_writer.h"

#include <cstring>
#include <fmt/format.h>

#include "format/gguf_reader.h"
#include "io/atomic_file.h"

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

Status GgufWriter::write(const std::string& path) const {
  std::vector<uint64_t> sizes;
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
    h.put_string(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) h.put<int64_t>(static_cast<int64_t>(*it));
    h.put<uint32_t>(static_cast<uint32_t>(info.gguf_id));
    h.put<uint64_t>(offset);
    sizes.push_back(*size.nbytes);
    offset = align_up(offset + *size.nbytes, alignment_);
  }

  auto out = AtomicFileWriter::create(path);
  if (!out) return out.error();
  if (Status s = out->write(h.bytes); !s) return s;
  if (Status s = out->write_zeros(align_up(h.bytes.size(), alignment_) - h.bytes.size()); !s) return s;
  std::vector<std::byte> chunk(std::min<uint64_t>(8 << 20, std::max<uint64_t>(offset, 1)));
  for (size_t k = 0; k < tensors_.size(); ++k) {
    for (uint64_t done = 0; done < sizes[k];) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), sizes[k] - done));
      tensors_[k].data.fill(done, {chunk.data(), n});
      if (Status s = out->write({chunk.data(), n}); !s) return s;
      done += n;
    }
    if (k + 1 < tensors_.size())
      if (Status s = out->write_zeros(align_up(sizes[k], alignment_) - sizes[k]); !s) return s;
  }
  return out->commit();
}

}  // namespace wm
