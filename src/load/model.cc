#include "load/model.h"

namespace wm {

const LoadedTensor* Model::find(std::string_view qualified_name) const {
  auto it = by_name_.find(std::string(qualified_name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Status Model::wait_ready(size_t index) const {
  (void)index;  // no background work yet: every tensor is ready when load_model returns
  return {};
}

void Model::release() {
  lora_.reset();  // LoRA: its private ranges and factors
  tensors_.clear();
  by_name_.clear();
  host_buffers_.clear();
  if (sim_) sim_->free_all();
  mappings_.clear();
  files_.clear();
}

}  // namespace wm
