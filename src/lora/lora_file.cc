#include "lora/lora_file.h"

#include <cstring>
#include <fmt/format.h>
#include <variant>

#include "dtype/convert.h"
#include "format/model_path.h"

namespace wm {

Result<LoraFile> LoraFile::open(const std::string& path, const Logger& log) {
  auto table = open_model({path}, {log, {}, false});
  if (!table) return table.error();
  if (table->files.size() != 1)
    return Error{path, {}, {}, fmt::format("a LoRA must be one GGUF or safetensors file (found {} files)",
                                           table->files.size())};
  auto file = File::open(table->files[0].path);
  if (!file) return file.error();
  const FileIdentity& parsed = table->files[0].identity;
  if (parsed.size != 0 && file->identity() != parsed)
    return Error{path, {}, {}, "file changed while it was being opened; open it again"};
  std::optional<float> alpha;
  for (const auto& [key, value] : table->files[0].metadata) {
    if (key != "adapter.lora.alpha") continue;
    if (const double* f = std::get_if<double>(&value.v)) alpha = static_cast<float>(*f);
    else if (const uint64_t* u = std::get_if<uint64_t>(&value.v)) alpha = static_cast<float>(*u);
    else if (const int64_t* i = std::get_if<int64_t>(&value.v)) alpha = static_cast<float>(*i);
  }
  return LoraFile(std::move(table.value()), std::move(file.value()), alpha);
}

std::vector<std::string> LoraFile::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(table_.tensors.size());
  for (const auto& t : table_.tensors) names.push_back(t.name);
  return names;
}

Result<std::vector<float>> LoraFile::read_f32(const TensorInfo& t) const {
  if (t.dtype != DType::F32 && !can_convert(t.dtype, DType::F32))
    return Error{path(), t.name, t.offset,
                 fmt::format("LoRA factor of dtype {} cannot be read as F32 (expected F32, F16, BF16, Q8_0 or Q4_0)",
                             dtype_name(t.dtype))};
  std::vector<std::byte> raw(t.nbytes);
  if (Status s = file_.read_exact(t.offset, raw); !s) {
    Error e = s.error();
    e.tensor = t.name;
    return e;
  }
  uint64_t n = elements_in(t.dtype, t.nbytes);
  std::vector<float> out(n);
  if (t.dtype == DType::F32) std::memcpy(out.data(), raw.data(), n * 4);
  else convert(t.dtype, DType::F32, raw.data(), reinterpret_cast<std::byte*>(out.data()), n);
  return out;
}

}  // namespace wm
