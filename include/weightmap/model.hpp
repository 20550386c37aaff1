// A loaded model and the one call that makes it.
//
//   auto model = wm::open({"model.safetensors"}, options);
//   if (!model) { report(model.error()); return; }
//   const wm::Tensor* t = model->find("blk.0.attn_q.weight");
//   model->wait_ready(model->index_of(t->name).value());  // a background prefetch may still be reading it
//   use(t->host_data, t->nbytes);
//
// Ownership: a Model owns its files, mappings, host copies and device
// buffers; release() (or the destructor) gives them all back. Tensor
// pointers (host_data, device_buffer) are valid until then.
//
// Thread safety: const methods may be called from any number of threads at
// once. apply_loras, remove_loras and release must not run concurrently
// with anything else on the same Model (including reads of tensor bytes).
//
// Pointer stability: host_data never changes except through apply_loras and
// remove_loras, which return the indices of the tensors that moved
// (LoraReport::moved) and bump generation(); each moved or changed tensor's
// Tensor::generation becomes the new generation(). An engine that stores
// pointers re-points exactly those tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightmap/device.hpp"
#include "weightmap/error.hpp"
#include "weightmap/export.hpp"
#include "weightmap/lora.hpp"
#include "weightmap/options.hpp"
#include "weightmap/report.hpp"
#include "weightmap/tensor.hpp"

namespace wm {

class WM_API Model {
 public:
  Model();  // an empty (released) model
  ~Model();  // release(), evicting when the hints said "dontneed"
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // --- tensors ---
  const std::vector<Tensor>& tensors() const;
  size_t size() const { return tensors().size(); }
  // REQUIRES: index < size().
  const Tensor& tensor(size_t index) const { return tensors()[index]; }
  // By qualified name; nullptr / nullopt when there is none.
  const Tensor* find(std::string_view name) const;
  std::optional<size_t> index_of(std::string_view name) const;

  // Blocks until tensor `index` can be read: with a background prefetch,
  // until its file range is in memory. Fails (naming file and tensor) when
  // that range could not be read.
  Status wait_ready(size_t index) const;

  // --- devices and files ---
  // Index 0 is "cpu", 1 "sim", then Options::devices in order.
  const std::vector<DeviceCaps>& devices() const;
  // The Device object behind devices()[index].
  Device& device(size_t index) const;
  size_t file_count() const;
  const std::string& file_path(size_t file) const;
  // Whether every file is still what was loaded (not truncated, rewritten,
  // replaced or removed; with lock_files, no writer waiting). The error
  // (ErrorCode::kChangedOnDisk) names the first changed file.
  Status check_files() const;
  // The same check for one file (Tensor::file): cheap enough to run before
  // handing out each tensor's bytes. kInvalidArgument when file >= file_count().
  Status check_file(size_t file) const;

  // --- metadata (GGUF key/values, safetensors __metadata__) ---
  // Keys of every file, in file order (a key in several files, once).
  std::vector<std::string> metadata_keys() const;
  // The value of `key` in the first file that has it, when it has that type:
  // integers of any width (and bools) that fit int64; floats (and
  // integers); strings; arrays of those. nullopt when absent or of another type.
  std::optional<int64_t> metadata_int(std::string_view key) const;
  std::optional<double> metadata_float(std::string_view key) const;
  std::optional<std::string> metadata_string(std::string_view key) const;
  std::optional<std::vector<int64_t>> metadata_ints(std::string_view key) const;
  std::optional<std::vector<double>> metadata_floats(std::string_view key) const;
  std::optional<std::vector<std::string>> metadata_strings(std::string_view key) const;
  // Any value as text (arrays as "[a, b, ...]"); nullopt when absent.
  std::optional<std::string> metadata_text(std::string_view key) const;

  // --- what the load did ---
  LoadReport report() const;
  // The report as one JSON object (what `weightmap load --json` prints
  // under "report"), always valid JSON.
  // With per_tensor, one entry per tensor (name, placement, device, dtype,
  // bytes, reason, LoRA).
  std::string report_json(bool per_tensor = false) const;

  // --- LoRA (see pointer stability above) ---
  // Applies `loras`, replacing any applied before. Bad files or modes fail
  // before anything changes; a failure while patching leaves none applied.
  Result<LoraReport> apply_loras(const std::vector<LoraSpec>& loras, const LoraOptions& options = {});
  // Undoes every LoRA; returns the tensors whose host_data moved back.
  Result<std::vector<size_t>> remove_loras();
  // The at_runtime factors of tensor `index` (empty when none).
  const std::vector<LoraTerm>& lora_terms(size_t index) const;
  // What the last apply_loras did; nullptr when no LoRA is applied.
  const LoraReport* lora_report() const;
  // Starts at 0; +1 on every apply_loras/remove_loras that changed anything.
  uint64_t generation() const;

  // --- the end ---
  // Stops a background prefetch, unmaps the files, frees host and device
  // buffers; tensors() becomes empty. With `evict` (or the "dontneed" hint)
  // the files' pages are dropped from the page cache too. Returns the first
  // eviction failure; the release itself always happens.
  Status release(bool evict = false);
  bool released() const;

  struct Impl;  // the library's; engines never see inside

 private:
  friend struct ModelAccess;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses every path (a GGUF or safetensors file, a sharded index, a
// diffusers folder, a PyTorch checkpoint), plans where each tensor goes,
// loads, and applies Options::loras. Each file is opened once. The report
// times all of it.
WM_API Result<Model> open(const std::vector<std::string>& paths, const Options& options = {});
WM_API Result<Model> open(const std::string& path, const Options& options = {});

}  // namespace wm
