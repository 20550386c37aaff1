// The ggml adapter (library weightmap-ggml, built with -DWM_GGML=ON): a ggml
// context whose tensors are a wm::Model's tensors, backed by weightmap's
// bytes without copying, and a wm::Device over a ggml backend buffer type.
// For engines that compute with ggml (llama.cpp, whisper.cpp,
// stable-diffusion.cpp): they open the model with weightmap and build their
// graphs over these tensors instead of reading the file into a context.
//
//   auto model = wm::open("model.gguf");
//   auto weights = wm::ggml::Weights::create(*model);
//   ggml_tensor* w = weights->get("blk.0.attn_q.weight");
//   ... ggml_mul_mat(graph_ctx, w, x) ...
//
// Backing, per tensor (Weights::backing):
// - used in place from the file mapping: one ggml "CPU_Mapped" buffer
//   (ggml_backend_cpu_buffer_from_ptr) over each file's mapped range, the
//   tensor's data a pointer into the mapping, as llama.cpp does with mmap;
// - copied or converted into weightmap's host memory: a CPU buffer over that
//   copy (no second copy);
// - on a device made by make_device(): that device's ggml backend buffer,
//   so graphs on that backend use it directly.
// When every tensor is mapped, the context has no buffer of its own: there
// is nothing to allocate and nothing fails.
//
// Ownership and lifetime: Weights owns its ggml context and buffers (not the
// memory behind them). The Model must outlive it, and so must the ggml
// backend of any device. Tensor pointers stay valid until Weights is
// destroyed; their `data` changes only through update().
//
// Thread safety: const methods from any number of threads; update() alone
// (it rewrites tensors' data), like Model::apply_loras.
//
// Versions: ggml 0.25.x (what scripts/ggml.sh pins); the adapter uses only
// ggml.h, ggml-backend.h and ggml-cpu.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ggml-backend.h>
#include <ggml.h>

#include "weightmap/device.hpp"
#include "weightmap/error.hpp"
#include "weightmap/log.hpp"
#include "weightmap/model.hpp"

namespace wm::ggml {

// The ggml type of a weightmap dtype (through the type table's GGUF ids), or
// kUnsupported naming the dtype when ggml has none (safetensors' F8, BOOL,
// unsigned types: convert them with a dtype rule when loading).
Result<ggml_type> type_of(DType dtype);

// How a tensor's data is backed.
enum class Backing : uint8_t {
  kMapped,     // a pointer into the file mapping (a CPU_Mapped buffer)
  kHostCopy,   // weightmap's host copy (copied, converted, LoRA-patched)
  kDevice,     // a buffer of a make_device() device
};
const char* backing_name(Backing b);

class Weights {
 public:
  // One ggml tensor per model tensor, in the model's order: name (ggml keeps
  // GGML_MAX_NAME - 1 characters; get() matches the whole name), type,
  // ne[] (the shape reversed: innermost first), data. Errors, naming the
  // tensor: a dtype ggml lacks, more than 4 dimensions, an innermost
  // dimension that is not a whole number of blocks, a tensor on a device
  // that is not a make_device() device.
  static Result<Weights> create(const Model& model);
  static Result<Weights> create(const Model&& model) = delete;  // the Model must outlive the Weights

  Weights(Weights&&) noexcept;
  Weights& operator=(Weights&&) noexcept;
  ~Weights();

  // The context holding the tensors (no_alloc: it owns no tensor data).
  ggml_context* context() const;
  size_t size() const;
  // REQUIRES: index < size() (the Model's tensor index).
  ggml_tensor* tensor(size_t index) const;
  Backing backing(size_t index) const;
  // By the model's (whole) name; nullptr when there is none.
  ggml_tensor* get(std::string_view name) const;

  // After Model::apply_loras / remove_loras: re-points the tensors whose
  // bytes moved (Tensor::generation newer than this Weights has seen; the
  // report's `moved` list) and rebuilds the run-time LoRA factors (so
  // call it after every apply/remove, at_runtime ones included). Returns
  // how many tensors it re-pointed. Every ggml_tensor stays the same
  // object; those that did not move keep their data. Factor tensors from
  // lora_factors() before the call are gone after it. Errors:
  // kInvalidArgument when the Model was released; a tensor that moved to
  // where ggml cannot use it, as create() says.
  Result<size_t> update();

  // The run-time LoRA terms of tensor `index` (Model::lora_terms) as ggml
  // tensors, F32, in host memory this Weights owns: down is ne = [cols,
  // rank], up ne = [rank, rows]. Empty when the tensor has none.
  struct LoraFactors {
    ggml_tensor* down = nullptr;
    ggml_tensor* up = nullptr;
    float scale = 1.0f;
  };
  const std::vector<LoraFactors>& lora_factors(size_t index) const;

  // y = W x, plus scale * up (down x) for each run-time LoRA term of W:
  // the graph an engine builds for an at_runtime tensor. `x` has ne[0] ==
  // W's ne[0]; built in `graph_ctx`. REQUIRES: index < size().
  ggml_tensor* mul_mat(ggml_context* graph_ctx, size_t index, ggml_tensor* x) const;

  // Buffers this Weights created: one per mapped file range, one per host
  // copy. 0 when there is nothing to back (every tensor on a device).
  size_t buffer_count() const;

  struct Impl;

 private:
  explicit Weights(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct DeviceOptions {
  // The host buffer type the staging slots come from: the backend's pinned
  // memory (ggml_backend_dev_host_buffer_type), for faster copies. nullptr:
  // ordinary memory.
  ggml_backend_buffer_type_t staging_type = nullptr;
  // A backend (stream) of the buffer type's device: uploads become
  // ggml_backend_tensor_set_async on it, each completed by a backend event
  // before its staging slot is reused, so reads and copies overlap. Used
  // when the backend offers asynchronous copies and events and uses the
  // buffer type; otherwise uploads stay synchronous and `log` says why.
  // It must outlive the device; the engine may use it meanwhile only from
  // one thread at a time, as ggml requires, and not during a load.
  ggml_backend_t backend = nullptr;
  Logger log;
};

// A wm::Device over a ggml backend buffer type that is not host memory
// (CUDA, Vulkan, Metal, ...): device rules that name `name` send tensors
// there; weightmap allocates one backend buffer per tensor and uploads
// through its bounded staging, from several loader threads at once, with
// ggml_backend_tensor_set (or asynchronously: DeviceOptions::backend).
// caps(): `name`, the buffer type's alignment, every dtype ggml has.
// Weights::create() backs such tensors with their buffer. For a host
// buffer type (ggml_backend_buft_is_host) the device reads host memory,
// like "cpu": mapped tensors are used in place and copies are weightmap's.
// The buffer types must outlive the device and every model using it.
std::shared_ptr<Device> make_device(ggml_backend_buffer_type_t buffer_type, std::string name,
                                    const DeviceOptions& options = {});

}  // namespace wm::ggml
