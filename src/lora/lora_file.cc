#include "lora/lora_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <variant>

#include "dtype/convert.h"
#include "dtype/half.h"
#include "format/model_path.h"
#include "load/source_transform.h"
#include "lora/name_match.h"

namespace wm {

Result<LoraFile> LoraFile::open(const std::string& path, const Logger& log) {
  auto table = open_model({path}, {log, {}, false});
  if (!table) return table.error();
  if (table->files().size() != 1)
    return Error{path, {}, {}, fmt::format("a LoRA must be one GGUF or safetensors file (found {} files)",
                                           table->files().size())};
  auto file = File::open(table->files()[0].path);
  if (!file) return file.error();
  const FileIdentity& parsed = table->files()[0].identity;
  if (parsed.size != 0 && file->identity() != parsed)
    return Error{path, {}, {}, "file changed while it was being opened; open it again"};
  std::optional<float> alpha;
  for (const auto& [key, value] : table->files()[0].metadata) {
    if (key != "adapter.lora.alpha") continue;
    if (const double* f = std::get_if<double>(&value.v)) alpha = static_cast<float>(*f);
    else if (const uint64_t* u = std::get_if<uint64_t>(&value.v)) alpha = static_cast<float>(*u);
    else if (const int64_t* i = std::get_if<int64_t>(&value.v)) alpha = static_cast<float>(*i);
  }
  const bool own_alpha = alpha || std::any_of(table->tensors().begin(), table->tensors().end(), [](const TensorInfo& t) {
    auto parts = split_lora_name(t.name);
    return parts && parts->role == LoraRole::kAlpha;
  });
  auto peft = peft_config_for(table->files()[0].path, own_alpha, log);
  if (!peft) return peft.error();
  return LoraFile(std::move(table.value()), std::move(file.value()), alpha, std::move(peft.value()));
}

std::vector<std::string> LoraFile::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(table_.tensors().size());
  for (const auto& t : table_.tensors()) names.push_back(t.name);
  return names;
}

// A PyTorch LoRA's factor may be a strided view or lie in a deflated zip
// entry: not `nbytes` at `offset`. Read as the loader does.
Result<std::vector<std::byte>> LoraFile::read_bytes(const TensorInfo& t) const {
  std::vector<std::byte> raw(t.nbytes);
  if (Status s = read_transformed(file_, t, raw); !s) {
    Error e = s.error();
    e.tensor = t.name;
    return e;
  }
  return raw;
}

Result<std::vector<float>> LoraFile::read_f32(const TensorInfo& t) const {
  if (t.dtype != DType::F32 && !can_convert(t.dtype, DType::F32))
    return Error{path(), t.name, t.offset,
                 fmt::format("LoRA factor of dtype {} cannot be read as F32 (expected a float type, or a "
                             "quantised type with a dequantiser)",
                             dtype_name(t.dtype))};
  auto raw = read_bytes(t);
  if (!raw) return raw.error();
  uint64_t n = elements_in(t.dtype, t.nbytes);
  std::vector<float> out(n);
  if (t.dtype == DType::F32) std::memcpy(out.data(), raw->data(), n * 4);
  else convert(t.dtype, DType::F32, raw->data(), reinterpret_cast<std::byte*>(out.data()), n);
  return out;
}

namespace {

template <class T>
double as_double(const std::vector<std::byte>& raw) {
  T v;
  std::memcpy(&v, raw.data(), sizeof v);
  return static_cast<double>(v);
}

}  // namespace

Result<double> LoraFile::read_alpha(const TensorInfo& t) const {
  auto bad = [&](std::string message) {
    return Error{path(), t.name, t.offset, std::move(message), ErrorCode::kBadFormat};
  };
  const DTypeInfo& info = dtype_info(t.dtype);
  if (info.packing != Packing::kScalar) return bad(fmt::format("alpha of dtype {} is not a scalar type", info.name));
  const uint64_t n = elements_in(t.dtype, t.nbytes);
  if (n != 1) return bad(fmt::format("alpha must hold one value, not {}", n));
  std::optional<double> v;
  auto raw = read_bytes(t);
  if (!raw) return raw.error();
  switch (t.dtype) {
    case DType::F32: v = as_double<float>(*raw); break;
    case DType::F64: v = as_double<double>(*raw); break;
    case DType::F16: v = f16_to_f32(static_cast<uint16_t>(as_double<uint16_t>(*raw))); break;
    case DType::BF16: v = bf16_to_f32(static_cast<uint16_t>(as_double<uint16_t>(*raw))); break;
    case DType::I8: v = as_double<int8_t>(*raw); break;
    case DType::I16: v = as_double<int16_t>(*raw); break;
    case DType::I32: v = as_double<int32_t>(*raw); break;
    case DType::I64: v = as_double<int64_t>(*raw); break;
    case DType::U8: v = as_double<uint8_t>(*raw); break;
    case DType::U16: v = as_double<uint16_t>(*raw); break;
    case DType::U32: v = as_double<uint32_t>(*raw); break;
    case DType::U64: v = as_double<uint64_t>(*raw); break;
    default: break;
  }
  if (!v)
    return bad(fmt::format("alpha of dtype {} is not a number (expected F32, F64, F16, BF16 or an integer type)",
                           info.name));
  if (!std::isfinite(*v)) return bad(fmt::format("alpha {} is not a finite number", *v));
  return *v;
}

}  // namespace wm
