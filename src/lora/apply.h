// Applying LoRAs to a LoadedModel: reads each LoRA file, matches its tensors
// to the model's, decides per tensor between patching now and run time, and
// undoes all of it on remove or swap.
//
// Not thread-safe: the model's tensors must not be read while it runs.
#pragma once

#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"
#include "load/loaded_model.h"
#include "lora/lora_types.h"
#include "weightmap/lora.hpp"

namespace wm {

// What a LoadedModel holds while LoRAs are applied.
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

// Applies `loras` (replacing any applied before, without reloading):
// patched tensors get a private copy-on-write range (mapped) or are patched
// in place (copies, device buffers); at_runtime tensors keep their bytes and
// expose lora_terms(). The report lists the tensors whose host_data moved
// (LoraReport::moved) and those changed in place; the model's generation
// and theirs go up. Bad LoRA files or modes fail before anything changes; a
// failure while patching leaves no LoRA applied.
// REQUIRES: no concurrent readers of the model's tensors while this runs.
Result<LoraReport> apply_loras(LoadedModel& model, const std::vector<LoraSpec>& loras, const LoraOptions& options);
// Undoes every LoRA: private ranges are discarded (the file's bytes again),
// copies are re-read from the file. Returns the tensors whose host_data
// moved back. Same REQUIRES as apply_loras.
Result<std::vector<size_t>> remove_loras(LoadedModel& model);
// The at_runtime factors of tensor `index` (empty when none).
const std::vector<LoraTerm>& lora_terms(const LoadedModel& model, size_t index);
// What the last apply_loras did; nullptr when no LoRA is applied.
const LoraReport* lora_report(const LoadedModel& model);

class LoraApplier {
 public:
  explicit LoraApplier(LoadedModel& model) : m_(model) {}
  Result<LoraReport> apply(const std::vector<LoraSpec>& loras, const LoraOptions& options);
  // Undoes every LoRA; the tensors whose host_data moved go to `moved`.
  Status remove(std::vector<size_t>* moved = nullptr);
  static const LoraState* state(const LoadedModel& m) { return m.lora_state(); }

 private:
  using TermsByTensor = std::map<size_t, std::vector<LoraTerm>>;
  Status collect(const LoraSpec& spec, const LoraOptions& options, TermsByTensor& terms, LoraReport& report);
  Status patch(size_t index, std::span<const LoraTerm> terms, LoraState::Patch& patch,
               std::unique_ptr<PrivateRange> reuse);
  // Puts tensor `index` back to the file's bytes. A mapped tensor's reverted
  // range is handed back through `keep` when non-null, else unmapped.
  Status restore(size_t index, LoraState::Patch& patch, std::unique_ptr<PrivateRange>* keep);
  // Marks tensor `index` as changed by this call; finish_generation sorts
  // the touched tensors into moved (host_data differs from `before`) and
  // changed in place, and bumps the generations when there are any.
  void touch(size_t index);
  void finish_generation(const std::vector<const std::byte*>& before, std::vector<size_t>& moved,
                         std::vector<size_t>& changed);
  Status upload_whole(size_t index, const std::vector<std::byte>& bytes);
  Status reload_copy(size_t index);
  Error tensor_error(size_t index, std::string message) const;

  LoadedModel& m_;
  std::vector<size_t> touched_;
};

}  // namespace wm
