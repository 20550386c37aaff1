// Each `weightmap` subcommand registers itself on the app; its callback
// stores the process exit code in `*exit_code`.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "common/log.h"
#include "weightmap/weightmap.hpp"

namespace wm::cli {

struct Context {
  Logger log;
  int exit_code = 0;
  // When main() began: what time to first result counts from (the exec and
  // dynamic loading before it take about a millisecond).
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Load options shared by `load`, `demo` and later commands.
struct LoadArgs {
  bool mmap = true;
  std::string device_rules;
  std::string type_rules;
  unsigned threads = 2;
  uint64_t staging_mb = 64;
  bool offload_to_cpu = false;
  std::string variant;
  // LoRA: --lora FILE[:STRENGTH] (repeatable), --lora-apply-mode, --lora-prefix FROM=TO (repeatable).
  std::vector<std::string> loras;
  std::string lora_apply_mode = "auto";
  std::vector<std::string> lora_prefixes;
  // Page cache and I/O (see io/mmap_hints.h, load/source_reader.h).
  std::optional<std::string> hints;  // --hints; else WEIGHTMAP_MMAP_HINTS; else auto
  std::string prefetch = "wait";     // background | wait | none (commands pick their default)
  unsigned prefetch_workers = 1;
  std::string io = "read";
  uint64_t cache_window_mb = 0;
  std::string max_memory;            // "" = no limit; "12G", "512M", bytes
  // Reliability (see io/file_lock.h, io/mmap_limiter.h).
  bool lock = false;                      // --lock: lease, else flock, on every file
  bool mlock = false;                     // --mlock: pin the model in memory
  std::optional<uint64_t> max_mapped_files;  // else WEIGHTMAP_MAX_MAPPED_FILES; else 1000
  std::string max_mapped;                 // else WEIGHTMAP_MAX_MAPPED_BYTES; else no limit
  // Tensor parallel (cli/shard_choice.h): --shard RANK/WORLD or auto, --split RULES.
  std::string shard;
  std::string split;
  std::string shard_mode = "auto";  // --shard-mode: auto, shared, exchange (wm::ShardMode)
  std::string staging_dir;          // --staging-dir: the exchange mode's staged copies
};
void add_load_options(CLI::App& cmd, LoadArgs& args);
// The public API's options for `args` (sets the process-wide mmap limits too;
// with --shard, error messages name the rank from here on).
Result<Options> options_from(const LoadArgs& args, const Logger& log);
// Opens `paths` through wm::open (only `components`, when given); shows a
// progress bar when `progress`.
Result<Model> open_and_load(const std::vector<std::string>& paths, const LoadArgs& args, const Logger& log,
                            bool progress, const std::vector<std::string>& components = {});

void add_inspect_command(CLI::App& app, Context& ctx);
void add_load_command(CLI::App& app, Context& ctx);
void add_demo_command(CLI::App& app, Context& ctx);
void add_verify_command(CLI::App& app, Context& ctx);
void add_run_command(CLI::App& app, Context& ctx);
void add_cache_command(CLI::App& app, Context& ctx);
void add_bench_command(CLI::App& app, Context& ctx);
void add_convert_command(CLI::App& app, Context& ctx);
void add_platform_command(CLI::App& app, Context& ctx);

// This executable's path (bench runs it again in child processes).
std::string self_executable();

// Prints "weightmap: error: <message>" to stderr and returns 1.
int report_error(const std::string& message);

}  // namespace wm::cli
