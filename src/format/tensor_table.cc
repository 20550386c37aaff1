#include "format/tensor_table.h"

#include <fmt/format.h>

namespace wm {

const char* format_name(FileFormat f) {
  switch (f) {
    case FileFormat::kGguf: return "gguf";
    case FileFormat::kSafetensors: return "safetensors";
    case FileFormat::kTorch: return "torch";
    case FileFormat::kTorchLegacy: return "torch-legacy";
  }
  return "?";
}

void TensorTable::append(TensorTable other) {
  auto base = static_cast<uint32_t>(files.size());
  for (auto& f : other.files) files.push_back(std::move(f));
  for (auto& t : other.tensors) {
    t.file += base;
    tensors.push_back(std::move(t));
  }
  (void)index_names();  // a duplicate is the caller's to report, through index_names()
}

Status TensorTable::index_names() {
  by_name_.clear();
  by_name_.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto [it, inserted] = by_name_.emplace(tensors[i].qualified_name(), i);
    if (!inserted) {
      const TensorInfo& first = tensors[it->second];
      const TensorInfo& again = tensors[i];
      return Error{files[again.file].path, again.name, again.offset,
                   fmt::format("duplicate tensor name (also in '{}' at byte {})", files[first.file].path,
                               first.offset)};
    }
  }
  return {};
}

const TensorInfo* TensorTable::find(std::string_view qualified_name) const {
  auto it = by_name_.find(std::string(qualified_name));
  return it == by_name_.end() ? nullptr : &tensors[it->second];
}

uint64_t TensorTable::total_tensor_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.nbytes;
  return n;
}

}  // namespace wm
