// `weightmap load PATH... [--mmap|--no-mmap] [--device RULES] [--type RULES]
//  [--threads N] [--staging-mb N] [--offload-to-cpu] [--shard R/W|auto
//  --split RULES] [--tensors] [--json]`
#include <chrono>
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/load_output.h"
#include "cli/mpi_ranks.h"
#include "cli/progress_bar.h"
#include "cli/shard_choice.h"
#include "common/size_text.h"
#include "io/mmap_limiter.h"
#include "weightmap/weightmap.hpp"

namespace wm::cli {

Result<Options> options_from(const LoadArgs& args, const Logger& log) {
  Options o;
  o.log = [log](LogLevel level, std::string_view message) { log.log(level, message); };
  o.variant = args.variant;
  o.metadata_arrays = false;  // the CLI reads no tokenizer
  o.threads = args.threads;
  o.staging_bytes = args.staging_mb << 20;
  o.use_mmap = args.mmap;
  o.offload_to_cpu = args.offload_to_cpu;
  o.device_rules = args.device_rules;
  o.type_rules = args.type_rules;
  if (args.hints) {
    if (args.hints->empty()) return Error{{}, {}, {}, "--hints: empty (give 'none' for no hints)"};
    o.hints = *args.hints;
  }
  auto prefetch = prefetch_mode_from_name(args.prefetch);
  if (!prefetch)
    return Error{{}, {}, {}, fmt::format("--prefetch: unknown mode '{}' (background, wait, none)", args.prefetch)};
  o.prefetch = *prefetch;
  o.prefetch_workers = args.prefetch_workers;
  auto io = io_mode_from_name(args.io);
  if (!io) return Error{{}, {}, {}, fmt::format("--io: unknown mode '{}' (read, direct, uring)", args.io)};
  o.io = *io;
  o.cache_window_bytes = args.cache_window_mb << 20;
  if (!args.max_memory.empty()) {
    auto limit = parse_size(args.max_memory);
    if (!limit) return Error{{}, {}, {}, fmt::format("--max-memory: {}", limit.error().message)};
    o.max_memory_bytes = *limit;
  }
  o.lock_files = args.lock;
  o.mlock = args.mlock;
  // Tensor parallel: this rank's slices only.
  auto shard = shard_choice(args.shard, args.split);
  if (!shard) return shard.error();
  set_error_rank(*shard);
  o.shard.rank = shard->rank;
  o.shard.world = shard->world;
  o.shard.rules = shard->rules;
  o.shard.source = shard->source;
  o.shard.mode = shard_mode_from_name(args.shard_mode).value_or(ShardMode::kAuto);
  o.shard.staging_dir = args.staging_dir;
  // Under an MPI launcher the ranks talk over MPI (agreeing on failures,
  // choosing the mode, exchanging bytes); elsewhere each goes alone.
  auto ranks = mpi_ranks(*shard, log);
  if (!ranks) return ranks.error();
  o.shard.collective = std::move(ranks.value());
  if (!o.shard.collective && o.shard.mode == ShardMode::kExchange)
    return Error{{}, {}, {},
                 fmt::format("--shard-mode exchange needs MPI: {}", mpi_unavailable_reason(*shard)),
                 ErrorCode::kInvalidArgument};
  // LoRA: --lora FILE[:STRENGTH], applied by open() right after the load.
  for (const auto& text : args.loras) {
    auto spec = parse_lora_spec(text);
    if (!spec) return spec.error();
    o.loras.push_back(std::move(spec.value()));
  }
  auto lora_mode = lora_mode_from_name(args.lora_apply_mode);
  if (!lora_mode)
    return Error{{}, {}, {},
                 fmt::format("--lora-apply-mode: unknown mode '{}' (auto, immediately, at_runtime)", args.lora_apply_mode)};
  o.lora.mode = *lora_mode;
  o.lora.log = log;
  for (const auto& text : args.lora_prefixes) {
    auto rule = parse_lora_prefix_rule(text);
    if (!rule) return rule.error();
    o.lora.prefixes.push_back(std::move(rule.value()));
  }
  // The mmap limits are process-wide, not per model: flags over the
  // environment over the defaults. (The one setting the CLI makes outside
  // the public API: it is a process setting, and the environment variables
  // are how an engine sets it.)
  auto limits = mmap_limits_from_env(MmapLimits{});
  if (!limits) return limits.error();
  if (args.max_mapped_files) limits->max_files = *args.max_mapped_files;
  if (!args.max_mapped.empty()) {
    auto bytes = parse_size(args.max_mapped);
    if (!bytes) return Error{{}, {}, {}, fmt::format("--max-mapped: {}", bytes.error().message)};
    limits->max_bytes = *bytes;
  }
  set_mmap_limits(*limits);
  return o;
}

void add_load_options(CLI::App& cmd, LoadArgs& args) {
  cmd.add_flag("--mmap,!--no-mmap", args.mmap, "Use tensors in place from a memory mapping (default) or copy them");
  cmd.add_option("--device", args.device_rules,
                 std::string("Device rules, e.g. 'text_encoder.*=cpu,*=sim' (devices: cpu, sim") +
                     (cuda_built_in() ? ", cuda, cuda:N)" : "; cuda needs a build with -DWM_CUDA=ON)"));
  cmd.add_option("--type", args.type_rules, "Wanted dtype, e.g. F16 or 'vae.*=F32' (converted on load)");
  cmd.add_option("-t,--threads", args.threads, "Copy-path workers")->check(CLI::Range(1, 256));
  cmd.add_option("--staging-mb", args.staging_mb, "Staging budget shared by all workers, MiB")
      ->check(CLI::Range(1, 1 << 16));
  cmd.add_flag("--offload-to-cpu", args.offload_to_cpu,
               "Keep tensors of devices that cannot read host memory in host memory (mapped when possible)");
  cmd.add_option("--variant", args.variant, "In folders, prefer this weight variant (e.g. fp16)");
  cmd.add_option("--lora", args.loras, "Apply a LoRA after loading: FILE[:STRENGTH] (repeat to stack)");
  cmd.add_option("--lora-apply-mode", args.lora_apply_mode,
                 "immediately (patch now, copy-on-write where mapped), at_runtime (keep factors for the engine), "
                 "auto (at_runtime for quantised bases)")
      ->capture_default_str();
  cmd.add_option("--lora-prefix", args.lora_prefixes,
                 "LoRA name prefix to base name prefix, FROM=TO, tried before the built-in ones (repeatable)");
  cmd.add_option("--hints", args.hints,
                 "Page-cache hints, comma-separated: none, sequential, random, willneed, populate, dontneed, auto "
                 "(default auto; also WEIGHTMAP_MMAP_HINTS)");
  cmd.add_option("--prefetch", args.prefetch,
                 "When hints prefetch: 'background' (return at once), 'wait' (return when read), 'none' (lazy faults)")
      ->capture_default_str();
  cmd.add_option("--prefetch-workers", args.prefetch_workers, "Reads in flight while prefetching")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd.add_option("--io", args.io, "Copy-path reads: read (pread), direct (O_DIRECT, no page cache), uring (io_uring)")
      ->capture_default_str();
  cmd.add_option("--cache-window-mb", args.cache_window_mb,
                 "Copy path: drop consumed ranges from the page cache, keeping at most this many MiB (0: off)")
      ->check(CLI::Range(0, 1 << 20));
  cmd.add_option("--max-memory", args.max_memory,
                 "Fail before loading when anonymous memory would exceed this (e.g. 12G, 512M)");
  cmd.add_flag("--lock", args.lock,
               "Hold a read lease (else a shared flock) on the files while loaded: writers wait, and changes are "
               "reported");
  cmd.add_flag("--mlock", args.mlock, "Pin the model in memory (mapped pages as they are read); refusals are logged");
  cmd.add_option("--max-mapped-files", args.max_mapped_files,
                 "Map at most this many files at once, reading the rest (0: no limit; default 1000; also "
                 "WEIGHTMAP_MAX_MAPPED_FILES)");
  cmd.add_option("--max-mapped", args.max_mapped,
                 "Map at most this many bytes at once, reading the rest (e.g. 16G; default no limit; also "
                 "WEIGHTMAP_MAX_MAPPED_BYTES)");
  cmd.add_option("--shard", args.shard,
                 "Tensor parallel: load only this rank's slices, as RANK/WORLD (e.g. 1/4; ranks from 0) or 'auto' "
                 "(from the launcher: torchrun RANK/WORLD_SIZE, Open MPI OMPI_COMM_WORLD_RANK/SIZE, MPICH PMI_RANK/"
                 "SIZE, Slurm SLURM_PROCID/NTASKS)");
  cmd.add_option("--split", args.split,
                 "With --shard: how tensors are cut, a preset (llama, diffusion) and/or PATTERN=HOW,... with HOW "
                 "rows, cols, rows:pad, cols:pad, rows[A:B], cols[A:B] or replicate; unmatched tensors are loaded "
                 "whole (required when WORLD > 1)");
  cmd.add_option("--shard-mode", args.shard_mode,
                 "With --shard auto under mpirun: shared (each rank maps its files, touching only its slices: one "
                 "host, one copy), exchange (each rank reads 1/WORLD of its copy and the ranks exchange over MPI: "
                 "separate hosts), or auto (shared when every rank sees the same files on one host, else exchange)")
      ->check(CLI::IsMember({"auto", "shared", "exchange"}));
  cmd.add_option("--staging-dir", args.staging_dir,
                 "Exchange mode: where each rank stages the bytes its slices need (an unlinked file; default "
                 "/dev/shm, else $TMPDIR, else /tmp)");
}

Result<Model> open_and_load(const std::vector<std::string>& paths, const LoadArgs& args, const Logger& log,
                            bool progress, const std::vector<std::string>& components) {
  auto options = options_from(args, log);
  if (!options) return options.error();
  options->components = components;
  ProgressBar bar("loading");
  if (progress) options->progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
  return wm::open(paths, *options);
}

void add_load_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> paths;
    LoadArgs load;
    bool json = false;
    bool tensors = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("load", "Load a model (mapped where possible) and report what each tensor took");
  cmd->add_option("paths", args->paths, "GGUF/safetensors files, *.safetensors.index.json, or model folders")
      ->required();
  add_load_options(*cmd, args->load);
  cmd->add_flag("--tensors", args->tensors, "List every tensor with its placement and reason");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &ctx] {
    auto model = open_and_load(args->paths, args->load, ctx.log, !args->json);
    if (!model) {
      ctx.exit_code = report_error(model.error().to_string());
      return;
    }
    std::string out = args->json ? load_json(*model, args->tensors) : load_text(*model, args->tensors);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
