// A loaded model: every tensor with where its bytes are (a pointer into the
// file mapping, a host buffer, or a device buffer), how they got there and
// why. Owns the files, mappings and buffers; release() gives them all back.
//
// Thread-safe for concurrent reads; release() must not race with them.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "device/sim_device.h"
#include "format/tensor_table.h"
#include "io/file_lock.h"
#include "io/mapped_file.h"
#include "io/prefetch.h"
#include "load/load_report.h"
#include "lora/lora_types.h"
#include "plan/load_plan.h"

namespace wm {

struct LoraState;  // lora/apply.cc

struct LoadedTensor {
  std::string name;              // qualified name ("component.name")
  DType dtype = DType::F32;      // as the engine gets it
  std::vector<uint64_t> shape;   // outermost first
  uint64_t nbytes = 0;
  uint32_t device = 0;           // index into Model::devices()
  Placement placement = Placement::kMap;
  bool host_resident = false;    // offloaded: engine fetches from host memory at use
  std::string reason;            // why not mapped; empty when mapped
  // Where the bytes are: host memory (mapped file or host buffer) ...
  const std::byte* host_data = nullptr;
  // ... or a buffer on a device that cannot read host memory.
  bool on_device = false;
  SimDevice::Handle device_buffer = 0;
  // Where the bytes came from.
  uint32_t file = 0;
  uint64_t file_offset = 0;
};

class Model {
 public:
  Model() = default;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  // Evicts the files too when the load's hints said "dontneed".
  ~Model();

  const LoadedTensor* find(std::string_view qualified_name) const;
  const std::vector<LoadedTensor>& tensors() const { return tensors_; }
  const std::vector<DeviceCaps>& devices() const { return devices_; }
  const TensorTable& table() const { return table_; }
  const LoadReport& report() const { return report_; }
  LoadReport& mutable_report() { return report_; }
  SimDevice* sim() const { return sim_.get(); }

  // Blocks until tensor `index` (its position in tensors()) can be read:
  // with a background prefetch, until its file range is in the page cache.
  // Fails (naming the file) when that range could not be read.
  Status wait_ready(size_t index) const;

  // Stops a background prefetch, unmaps the files, frees host and device
  // buffers; tensors are dropped. With `evict` (or the "dontneed" hint), the
  // files' pages are then dropped from the page cache through the
  // descriptors kept open for that (unmapping alone leaves them cached).
  // Returns the first eviction failure; the release itself always happens.
  Status release(bool evict = false);

  // The background prefetch's progress; empty stats when there is none.
  PrefetchStats prefetch_stats() const;

  // Whether every file is still what was loaded: not truncated, rewritten,
  // saved over or removed (File::check_unchanged), and, with
  // LoadOptions::lock_files, no writer waiting on the lease. The compute
  // pass, verify and apply_loras call this first; an engine can too, before
  // trusting the mappings again. The error names the first changed file.
  Status check_files() const;
  // The same for file `index` (of table().files) alone.
  Status check_file(size_t index) const;
  // Whether file `index` is mapped (some tensor reads it in place).
  bool file_mapped(size_t index) const { return index < mappings_.size() && mappings_[index] != nullptr; }

  // The error for a SIGBUS caught (io/sigbus_guard.h) at `addr` in tensor
  // `index`'s bytes `during` some work: file, tensor, file offset, and what
  // check_files() finds changed.
  Error mapped_fault(size_t index, const std::byte* addr, std::string_view during) const;

  // --- LoRA (defined in lora/apply.cc) ---------------------------------------
  // Applies `loras` (replacing any applied before, without reloading):
  // patched tensors get a private copy-on-write range (mapped) or are patched
  // in place (copies, device buffers); at_runtime tensors keep their bytes
  // and expose lora_terms(). host_data of a patched mapped tensor changes:
  // re-read tensors() after. Bad LoRA files or modes fail before anything
  // changes; a failure while patching leaves no LoRA applied.
  // REQUIRES: no concurrent readers of the tensors while this runs.
  Result<LoraReport> apply_loras(const std::vector<LoraSpec>& loras, const LoraOptions& options);
  // Undoes every LoRA: private ranges are discarded (the file's bytes again),
  // copies are re-read from the file. Same REQUIRES as apply_loras.
  Status remove_loras();
  // The at_runtime factors of tensor `index` (empty when none).
  std::span<const LoraTerm> lora_terms(size_t index) const;
  // What the last apply_loras did; nullptr when no LoRA is applied.
  const LoraReport* lora_report() const;
  // --- end LoRA ---------------------------------------------------------------

 private:
  friend class Loader;
  friend class LoraApplier;  // LoRA
  TensorTable table_;
  std::vector<DeviceCaps> devices_;
  std::vector<LoadedTensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<std::shared_ptr<const File>> files_;
  std::vector<FileLockKind> locks_;  // per file, with LoadOptions::lock_files
  std::vector<std::unique_ptr<MappedFile>> mappings_;  // per file, null when not mapped
  std::vector<std::unique_ptr<std::byte, void (*)(void*)>> host_buffers_;
  std::vector<std::pair<const std::byte*, uint64_t>> pinned_copies_;  // mlocked host copies
  std::unique_ptr<SimDevice> sim_;
  // Declared after the mappings: destroyed (workers joined) before them.
  std::unique_ptr<Prefetcher> prefetcher_;
  std::vector<size_t> prefetch_span_;  // per tensor: its span in prefetcher_, or SIZE_MAX
  bool evict_on_release_ = false;
  LoadReport report_;
  std::shared_ptr<LoraState> lora_;  // LoRA: private ranges, run-time factors; null when none applied
};

}  // namespace wm
