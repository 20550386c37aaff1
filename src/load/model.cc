#include "load/model.h"

#include "io/page_cache.h"

namespace wm {

const LoadedTensor* Model::find(std::string_view qualified_name) const {
  auto it = by_name_.find(std::string(qualified_name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Model::~Model() { (void)release(evict_on_release_); }

Status Model::wait_ready(size_t index) const {
  if (!prefetcher_ || index >= prefetch_span_.size() || prefetch_span_[index] == SIZE_MAX) return {};
  return prefetcher_->wait(prefetch_span_[index]);
}

PrefetchStats Model::prefetch_stats() const { return prefetcher_ ? prefetcher_->stats() : PrefetchStats{}; }

Status Model::release(bool evict) {
  evict = evict || evict_on_release_;
  prefetcher_.reset();  // joins its workers before the mappings go
  prefetch_span_.clear();
  lora_.reset();  // LoRA: its private ranges and factors
  tensors_.clear();
  by_name_.clear();
  host_buffers_.clear();
  if (sim_) sim_->free_all();
  mappings_.clear();
  Status first;
  if (evict)
    for (const auto& f : files_)
      if (Status s = evict_file(*f); !s && first) first = s;
  files_.clear();
  evict_on_release_ = false;
  return first;
}

}  // namespace wm
