// How to open a model: what to parse, where each tensor goes and in which
// type, how the bytes are read, and what to report through. Every field has
// a default that suits a single model on one machine; Options{} is valid.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weightmap/collective.hpp"
#include "weightmap/device.hpp"
#include "weightmap/error.hpp"
#include "weightmap/export.hpp"
#include "weightmap/log.hpp"
#include "weightmap/lora.hpp"

namespace wm {

// When mapped files are read in (see Options::hints for which pages).
enum class PrefetchMode {
  kBackground,  // open() returns at once; Model::wait_ready blocks per tensor
  kWait,        // open() returns once every prefetched tensor is in memory
  kNone,        // lazy: pages come in on first touch, whatever the hints say
};
WM_API const char* prefetch_mode_name(PrefetchMode m);
WM_API std::optional<PrefetchMode> prefetch_mode_from_name(std::string_view name);

// How the copy path (tensors that are not mapped) reads files.
enum class IoMode { kRead, kDirect, kUring };  // pread, O_DIRECT, io_uring + O_DIRECT
WM_API const char* io_mode_name(IoMode m);
WM_API std::optional<IoMode> io_mode_from_name(std::string_view name);

using ProgressCallback = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

// How the ranks of a tensor-parallel load get their bytes.
enum class ShardMode {
  kAuto,      // kShared when every rank's files are the same files of one
              // running kernel (boot id, device, inode), else kExchange
  kShared,    // each rank maps its own files and reads only its slices: on
              // one host the page cache is shared, so the file is read once
  kExchange,  // each rank reads a disjoint 1/world of the files and the ranks
              // pass each other the bytes their slices need: read once in all
              // even when every rank has its own copy (separate hosts)
};
WM_API const char* shard_mode_name(ShardMode m);
WM_API std::optional<ShardMode> shard_mode_from_name(std::string_view name);

// Tensor-parallel loading: this process is rank `rank` of `world` and loads
// only its part of each tensor (README, "Tensor parallel and multi-host").
struct ShardOptions {
  uint32_t rank = 0;
  uint32_t world = 1;  // 1 with empty rules: whole tensors, nothing sliced
  // "PATTERN=HOW,..." by qualified name, first match wins; tensors no rule
  // matches are replicated (loaded whole). HOW is
  //   rows | cols          this rank's 1/world of the outermost (rows) or
  //                        innermost (cols) dimension; uneven is an error
  //   rows:pad | cols:pad  uneven allowed: ceil(n/world) each, zero-filled
  //   rows[A:B] | cols[A:B]  rows or columns A..B-1 whatever the rank
  //   replicate            the whole tensor
  // A preset name stands for its rules: "llama" (GGUF and HF names),
  // "diffusion" (diffusers/DiT attention and MLP). "llama,*.foo=rows" mixes.
  // Quantised tensors are cut on block boundaries, else refused; a 0-d
  // tensor has nothing to cut and is replicated whatever its rule.
  std::string rules;
  // Who chose rank and world ("--shard", "OMPI_COMM_WORLD_RANK", ...):
  // only reported back (LoadReport::shard.source).
  std::string source;
  // The other ranks, for agreeing on failures and for the exchange mode
  // (weightmap/collective.hpp; weightmap/mpi_collective.hpp over MPI). Its
  // rank() and world() must equal `rank` and `world`. With one, every rank
  // must call wm::open with the same model, rules and mode: they all
  // succeed, or all fail (the others naming the rank that failed). Null:
  // every rank loads on its own (the shared mode; kExchange is refused).
  std::shared_ptr<Collective> collective;
  ShardMode mode = ShardMode::kAuto;
  // Exchange: the folder of this rank's staged copy (an unlinked file of
  // the bytes its slices need, which the model then maps); empty: /dev/shm
  // when writable, else $TMPDIR, else /tmp.
  std::string staging_dir;
  // Exchange: bytes each rank reads from its file per round; the buffers a
  // round holds are at most (2 * world - 1) times this.
  uint64_t exchange_round_bytes = 16ull << 20;
};

struct Options {
  // --- what to parse ---
  // diffusers weight variant to prefer in folders ("fp16" picks
  // model.fp16.safetensors over model.safetensors); empty = no variant.
  std::string variant;
  // Keep GGUF metadata arrays (tokenizer vocabularies): an engine that
  // reads its tokenizer from the file needs them.
  bool metadata_arrays = true;
  // Load only these components of a diffusers-style folder ("text_encoder",
  // "transformer", ...), in this order; empty = every tensor. A pipeline
  // opens one component, uses it, releases it, then opens the next.
  std::vector<std::string> components;

  // --- where tensors go ---
  bool use_mmap = true;      // false: every tensor is copied (--no-mmap)
  // "PATTERN=DEVICE,..." by qualified name, first match wins, unmatched go
  // to "cpu": "text_encoder.*=cpu,*=mygpu". Devices: "cpu", "sim", and the
  // caps().name of each of `devices`.
  std::string device_rules;
  // "PATTERN=DTYPE,...": the dtype the engine wants ("*.weight=F16").
  std::string type_rules;
  // Tensors on a device that cannot read host memory stay in host memory
  // (mapped where possible) for the engine to fetch at use time.
  bool offload_to_cpu = false;
  // The engine's own devices, by caps().name (which must not be "cpu" or
  // "sim" and must be unique). The Model keeps them alive.
  std::vector<std::shared_ptr<Device>> devices;

  // --- how bytes are read ---
  unsigned threads = 2;                  // copy-path workers
  uint64_t staging_bytes = 64ull << 20;  // the one staging budget all workers share
  // Page-cache hints for mapped files: "auto" (measure residency: warm ->
  // none, cold -> populate), "none", or tokens "sequential,random,willneed,
  // populate,dontneed". Empty: WEIGHTMAP_MMAP_HINTS if set, else auto.
  std::string hints;
  PrefetchMode prefetch = PrefetchMode::kBackground;
  unsigned prefetch_workers = 1;
  IoMode io = IoMode::kRead;
  // Copy path: drop consumed source ranges from the page cache so it holds
  // at most this many bytes of them (0: keep everything cached).
  uint64_t cache_window_bytes = 0;
  // Fail before allocating when this load's anonymous memory (copies,
  // device buffers, staging) on top of what the process uses would pass
  // this (0: no limit). Mapped tensors need none.
  uint64_t max_memory_bytes = 0;
  // Hold a read lease (else a shared flock) on every file while loaded.
  bool lock_files = false;
  // Pin the model in memory (mapped pages as they are read, copies at once);
  // a refusal is logged and reported, not fatal.
  bool mlock = false;

  // --- tensor parallel: load only this rank's slices ---
  ShardOptions shard;

  // --- LoRA applied right after the load (or later: Model::apply_loras) ---
  std::vector<LoraSpec> loras;
  LoraOptions lora;

  // --- reporting ---
  LogCallback log;              // may be called from loader threads
  ProgressCallback progress;    // from the loading thread, about every 100 ms
};

}  // namespace wm
