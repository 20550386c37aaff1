// The device interface: where tensors that are not used in place go. An
// engine implements wm::Device over its own buffers (a GPU allocator, a ggml
// backend buffer type) and passes it in Options::devices; device rules
// ("text_encoder.*=cpu,*=mygpu") then send tensors to it by name, and
// weightmap's bounded staging pipeline reads, converts and uploads into it.
//
// Built in: "cpu" (device 0, reads host memory: mapped tensors are used in
// place) and "sim" (an in-process stand-in for a discrete accelerator: own
// memory, no host pointers, uploads through a copy queue). With
// -DWM_CUDA=ON also "cuda" / "cuda:N" (NVIDIA GPUs), made when a device rule
// names them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weightmap/dtype.hpp"
#include "weightmap/error.hpp"
#include "weightmap/export.hpp"
#include "weightmap/lora.hpp"

namespace wm {

// What a device can do, as the planner needs to know it.
struct WM_API DeviceCaps {
  std::string name;                // what device rules name ("cuda", "cuda:1", "mygpu")
  bool reads_host_memory = false;  // true: a mapped tensor is used in place, no copy
  uint32_t alignment = 1;          // tensor data addresses must be multiples of this
  std::vector<DType> dtypes;       // dtypes it takes; empty = every dtype

  bool accepts(DType t) const;
  // The alignment a tensor of dtype `t` needs here: `alignment`, raised to
  // the dtype's natural alignment so element loads are legal.
  uint32_t required_alignment(DType t) const;
};

// A buffer a device allocated. weightmap never looks inside `handle` (a
// device pointer, a ggml_backend_buffer_t, an index): it only hands it back.
// `host_ptr` is non-null when the host may write the buffer directly (host
// memory, unified memory): then the loader reads into it with no staging or
// upload.
struct DeviceBuffer {
  void* handle = nullptr;
  uint64_t id = 0;
  std::byte* host_ptr = nullptr;
  uint64_t nbytes = 0;
};

// Called once an upload has finished reading its source (the staging slot
// can be reused), with its outcome. May run on any thread.
using UploadDone = std::function<void(Status)>;

// Thread safety: allocate() and free() are called from the loading thread;
// upload() from several loader threads at once, and must be safe for that;
// synchronize() and download() from the loading thread or the engine's.
// A Device must outlive every Model that used it (Options holds a
// shared_ptr, and so does the Model).
class WM_API Device {
 public:
  virtual ~Device();
  virtual const DeviceCaps& caps() const = 0;

  // A buffer of at least `nbytes` whose address is a multiple of
  // `alignment`. An error fails the load, naming the tensor.
  virtual Result<DeviceBuffer> allocate(uint64_t nbytes, uint32_t alignment) = 0;
  // Frees a buffer allocate() returned. Called once per buffer.
  virtual void free(const DeviceBuffer& buffer) = 0;

  // Starts copying `n` bytes from host memory `src` to `buffer` at
  // `offset`, and calls `done` once `src` may be reused (at the latest
  // when synchronize() returns). REQUIRES: offset + n <= buffer.nbytes; src
  // stays valid until done runs.
  virtual void upload(const DeviceBuffer& buffer, uint64_t offset, const std::byte* src, uint64_t n,
                      UploadDone done) = 0;
  // Blocks until every upload started so far has finished; returns the
  // first failure among them.
  virtual Status synchronize() = 0;
  // Copies `n` bytes of `buffer` at `offset` to host memory `dst`
  // (verify, the compute pass, LoRA on device buffers).
  virtual Status download(const DeviceBuffer& buffer, uint64_t offset, std::byte* dst, uint64_t n) = 0;

  // Optional: host memory the device uploads from fastest (pinned memory,
  // for a GPU). The staging budget is taken from here when the device
  // offers it; nullptr (the default) means ordinary page-aligned memory.
  virtual std::byte* allocate_staging(uint64_t nbytes);
  virtual void free_staging(std::byte* p, uint64_t nbytes);

  // Optional: conversion on the device. When converts(from, to) is true,
  // the loader uploads the file's bytes (dtype `from`) and the device
  // writes `elements` values of dtype `to` at `dst_offset`: no CPU
  // conversion pass. The default converts nothing.
  virtual bool converts(DType from, DType to) const;
  virtual void upload_converted(const DeviceBuffer& buffer, uint64_t dst_offset, const std::byte* src, uint64_t n,
                                DType from, DType to, uint64_t elements, UploadDone done);

  // Optional: lets the device read host memory [p, p + n) where it lies (a
  // GPU registering it, read-only, for zero-copy reads over the bus). The
  // loader offers the mapped ranges of tensors it keeps in host memory for
  // this device (Options::offload_to_cpu): page-aligned, read-only, one
  // range per file. An error is the reason it cannot, reported per tensor
  // and not fatal; the default declines. unregister_host() is called once
  // per range register_host() accepted, before the memory is unmapped.
  virtual Status register_host(const std::byte* p, uint64_t n);
  virtual void unregister_host(const std::byte* p, uint64_t n);

  // Optional: LoRA `immediately` in the device's own memory. When
  // patches(dtype) is true, a tensor on this device is patched by
  // add_low_rank instead of being downloaded, patched on the host and
  // uploaded again. The result must be the CPU's, bit for bit: per element,
  // in F32, the weight plus, term by term and k by k, (scale * up[i][k]) *
  // down[k][j], each product and sum rounded on its own, then rounded to
  // `dtype` (nearest even). Blocks until the tensor is patched; called from
  // the thread applying the LoRA, after every upload has finished.
  virtual bool patches(DType dtype) const;
  virtual Status add_low_rank(const DeviceBuffer& buffer, DType dtype, uint64_t rows, uint64_t cols,
                              const LoraTerm* terms, size_t n_terms);
};

// The built-in devices, for engines that want them beside their own (tests,
// a host fallback). Each call makes a new device.
WM_API std::shared_ptr<Device> make_cpu_device();
WM_API std::shared_ptr<Device> make_sim_device();

// The NVIDIA GPU `ordinal` (named "cuda" for 0, "cuda:N" otherwise): pinned
// staging, uploads on several streams, conversion on the GPU, mapped
// tensors used in place where the GPU reads pageable host memory (caps().
// reads_host_memory). Device rules that name "cuda" or "cuda:N" make it by
// themselves; call this to share one device between models. Each call makes
// a new device (its own streams and memory blocks).
// Errors: kUnsupported when weightmap was built without -DWM_CUDA=ON,
// kDevice when there is no driver or GPU (with the runtime's reason),
// kNotFound when `ordinal` is not a visible GPU.
WM_API Result<std::shared_ptr<Device>> make_cuda_device(int ordinal = 0);
// Whether this build has the cuda device (-DWM_CUDA=ON).
WM_API bool cuda_built_in();

}  // namespace wm
