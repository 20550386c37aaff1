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
#include "load/apply_hints.h"
#include "load/load_report.h"
#include "load/memory_pin.h"
#include "load/model_files.h"
#include "load/tensor_placement.h"
#include "plan/load_plan.h"
#include "weightmap/device.hpp"
#include "weightmap/lora.hpp"
#include "weightmap/tensor.hpp"

namespace wm {

struct LoraState;  // lora/apply.h: opaque here, so load/ does not depend on lora/

class LoadedModel {
 public:
  // What a load produced (load/loader.cc assembles it from its phases).
  struct Parts {
    TensorTable table;
    std::vector<std::shared_ptr<Device>> devices;  // cpu, sim, the engine's
    ModelFiles files;
    PlacedTensors placed;
    HintOutcome hints;  // its prefetcher, per-tensor spans and "dontneed"
    PinnedMemory pinned;
    LoadReport report;
  };
  LoadedModel() = default;
  explicit LoadedModel(Parts parts);
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
  // The same for file `index` (of table().files()) alone.
  Status check_file(size_t index) const;
  // Whether file `index` is mapped (some tensor reads it in place).
  bool file_mapped(size_t index) const {
    return index < files_.mappings.size() && files_.mappings[index] != nullptr;
  }

  // The error for a SIGBUS caught (io/sigbus_guard.h) at `addr` in tensor
  // `index`'s bytes `during` some work: file, tensor, file offset, and what
  // check_files() finds changed.
  Error mapped_fault(size_t index, const std::byte* addr, std::string_view during) const;

  // LoRA lives one layer up (lora/apply.h: apply_loras, remove_loras,
  // lora_terms, lora_report); the model holds its state, and LoRA changes
  // tensors only through the narrow methods below.
  const std::vector<std::shared_ptr<const File>>& files() const { return files_.files; }
  // The host bytes of tensor `index` that may be written in place (a host
  // copy, or a device buffer the host may write); empty for a mapped or
  // device-only tensor. REQUIRES: index < tensors().size().
  std::span<std::byte> writable_bytes(size_t index) { return writable_[index]; }
  // Mapped tensor `index` now reads from `data`: a private copy-on-write
  // range over its file bytes, or its mapping again (LoRA patch and revert).
  // REQUIRES: the tensor is mapped; `data` holds its nbytes.
  void redirect_mapped(size_t index, const std::byte* data);
  // Bumps generation() and stamps it on `tensors` (changed or moved).
  void advance_generation(const std::vector<size_t>& tensors);
  LoraState* lora_state() { return lora_.get(); }
  const LoraState* lora_state() const { return lora_.get(); }
  void set_lora_state(std::shared_ptr<LoraState> state) { lora_ = std::move(state); }

 private:
  TensorTable table_;
  std::vector<DeviceCaps> devices_;
  std::vector<Tensor> tensors_;
  std::vector<std::span<std::byte>> writable_;  // per tensor, see writable_bytes()
  std::unordered_map<std::string, size_t> by_name_;
  ModelFiles files_;  // descriptors, locks, mappings
  // Per entry of devices_: the Device (cpu, sim, the engine's).
  std::vector<std::shared_ptr<Device>> device_objects_;
  DeviceBuffers buffers_;  // every buffer a device allocated for this model, freed on release
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
