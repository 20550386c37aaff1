// The library's side of a loaded model (the public wm::Model wraps one):
// every tensor with where its bytes are (a pointer into the file mapping, a
// host buffer, or a device buffer), how they got there and why. Owns the
// files, mappings and buffers; release() gives them all back.
//
// Thread-safe for concurrent reads; release() must not race with them.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "format/tensor_table.h"
#include "io/file_lock.h"
#include "io/mapped_file.h"
#include "io/prefetch.h"
#include "load/load_report.h"
#include "plan/load_plan.h"
#include "weightmap/device.hpp"
#include "weightmap/lora.hpp"
#include "weightmap/tensor.hpp"

namespace wm {

struct LoraState;  // lora/apply.h: opaque here, so load/ does not depend on lora/

class LoadedModel {
 public:
  LoadedModel() = default;
  LoadedModel(LoadedModel&&) noexcept = default;
  LoadedModel& operator=(LoadedModel&&) noexcept = default;
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;
  // Evicts the files too when the load's hints said "dontneed".
  ~LoadedModel();

  const Tensor* find(std::string_view qualified_name) const;
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const std::vector<DeviceCaps>& devices() const { return devices_; }
  const TensorTable& table() const { return table_; }
  const LoadReport& report() const { return report_; }
  // The Device behind devices()[index]. REQUIRES: index < devices().size().
  Device& device(size_t index) const { return *device_objects_[index]; }
  // Reads `n` bytes of tensor `index` at byte `offset` wherever they are:
  // a copy from host memory, or a download from its device.
  Status read_bytes(size_t index, uint64_t offset, std::byte* dst, uint64_t n) const;
  // Takes the report's memory figures again (after work done on the loaded
  // model, such as LoRA: the report shows memory after everything).
  void refresh_memory();
  // Starts at 0; +1 on every LoRA apply/remove that changed anything.
  uint64_t generation() const { return generation_; }

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

  // LoRA lives one layer up (lora/apply.h: apply_loras, remove_loras,
  // lora_terms, lora_report); the model only holds its state.

 private:
  friend class Loader;
  friend class LoraApplier;  // LoRA
  TensorTable table_;
  std::vector<DeviceCaps> devices_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<std::shared_ptr<const File>> files_;
  std::vector<FileLockKind> locks_;  // per file, with LoadOptions::lock_files
  std::vector<std::unique_ptr<MappedFile>> mappings_;  // per file, null when not mapped
  // Per entry of devices_: the Device (cpu, sim, the engine's).
  std::vector<std::shared_ptr<Device>> device_objects_;
  // Every buffer a device allocated for this model (host copies are the
  // cpu device's), freed on release.
  std::vector<std::pair<uint32_t, DeviceBuffer>> buffers_;
  std::vector<std::pair<const std::byte*, uint64_t>> pinned_copies_;  // mlocked host copies
  uint64_t generation_ = 0;
  // Declared after the mappings: destroyed (workers joined) before them.
  std::unique_ptr<Prefetcher> prefetcher_;
  std::vector<size_t> prefetch_span_;  // per tensor: its span in prefetcher_, or SIZE_MAX
  bool evict_on_release_ = false;
  LoadReport report_;
  std::shared_ptr<LoraState> lora_;  // LoRA: private ranges, run-time factors; null when none applied
};

}  // namespace wm
