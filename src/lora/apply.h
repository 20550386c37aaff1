// Applying LoRAs to a loaded Model: reads each LoRA file, matches its tensors
// to the model's, decides per tensor between patching now and run time, and
// undoes all of it on remove or swap. Model::apply_loras / remove_loras are
// the public entry points; this is their implementation.
//
// Not thread-safe: the Model's tensors must not be read while it runs.
#pragma once

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"
#include "load/model.h"
#include "lora/lora_types.h"

namespace wm {

// What a Model holds while LoRAs are applied.
struct LoraState {
  struct Patch {
    // Mapped tensors: the private copy-on-write range now holding the
    // tensor, and where host_data pointed before (the shared mapping).
    std::unique_ptr<PrivateRange> range;
    const std::byte* original = nullptr;
  };
  std::map<size_t, Patch> patched;                          // by tensor index
  std::unordered_map<size_t, std::vector<LoraTerm>> runtime;  // by tensor index
  LoraReport report;
};

class LoraApplier {
 public:
  explicit LoraApplier(Model& model) : m_(model) {}
  Result<LoraReport> apply(const std::vector<LoraSpec>& loras, const LoraOptions& options);
  Status remove();

 private:
  using TermsByTensor = std::map<size_t, std::vector<LoraTerm>>;
  Status collect(const LoraSpec& spec, const LoraOptions& options, TermsByTensor& terms, LoraReport& report);
  Status patch(size_t index, std::span<const LoraTerm> terms, LoraState::Patch& patch,
               std::unique_ptr<PrivateRange> reuse);
  // Puts tensor `index` back to the file's bytes. A mapped tensor's reverted
  // range is handed back through `keep` when non-null, else unmapped.
  Status restore(size_t index, LoraState::Patch& patch, std::unique_ptr<PrivateRange>* keep);
  Status reload_copy(size_t index);
  Error tensor_error(size_t index, std::string message) const;

  Model& m_;
};

}  // namespace wm
