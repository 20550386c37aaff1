#include "format/tensor_table.h"

#include <fmt/format.h>
#include <stdexcept>

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

uint32_t TensorTable::add_file(FileInfo file) {
  files_.push_back(std::move(file));
  return static_cast<uint32_t>(files_.size() - 1);
}

void TensorTable::add_tensor(TensorInfo tensor) {
  if (tensor.file >= files_.size())
    throw std::out_of_range(fmt::format("tensor '{}' names file {} of a table of {} files", tensor.name, tensor.file,
                                        files_.size()));
  tensors_.push_back(std::move(tensor));
  index(tensors_.size() - 1);
}

void TensorTable::append(TensorTable other) {
  auto base = static_cast<uint32_t>(files_.size());
  for (auto& f : other.files_) files_.push_back(std::move(f));
  tensors_.reserve(tensors_.size() + other.tensors_.size());
  for (auto& t : other.tensors_) {
    t.file += base;
    tensors_.push_back(std::move(t));
    index(tensors_.size() - 1);
  }
}

void TensorTable::set_component(const std::string& component) {
  for (auto& f : files_) f.component = component;
  for (auto& t : tensors_) t.component = component;
  reindex();
}

void TensorTable::set_slice(size_t i, SliceGeometry g) {
  TensorInfo& t = tensors_.at(i);
  t.shape = std::move(g.shape);
  t.offset = g.offset;
  t.nbytes = g.nbytes;
  t.source.gather = g.gather;
  t.slice = std::move(g.slice);
}

void TensorTable::index(size_t i) {
  auto [it, inserted] = by_name_.emplace(tensors_[i].qualified_name(), i);
  if (!inserted && !duplicate_) duplicate_.emplace(it->second, i);
}

void TensorTable::reindex() {
  by_name_.clear();
  duplicate_.reset();
  by_name_.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) index(i);
}

Status TensorTable::check_unique_names() const {
  if (!duplicate_) return {};
  const TensorInfo& first = tensors_[duplicate_->first];
  const TensorInfo& again = tensors_[duplicate_->second];
  return Error{files_[again.file].path, again.name, again.offset,
               fmt::format("duplicate tensor name (also in '{}' at byte {})", files_[first.file].path, first.offset)};
}

const TensorInfo* TensorTable::find(std::string_view qualified_name) const {
  auto it = by_name_.find(std::string(qualified_name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

uint64_t TensorTable::total_tensor_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.nbytes;
  return n;
}

}  // namespace wm
