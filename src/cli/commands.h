// Each `weightmap` subcommand registers itself on the app; its callback
// stores the process exit code in `*exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "load/loader.h"

namespace wm::cli {

struct Context {
  Logger log;
  int exit_code = 0;
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
};
void add_load_options(CLI::App& cmd, LoadArgs& args);
Result<LoadOptions> load_options_from(const LoadArgs& args, const Logger& log);
// Parses `paths` and loads them; shows a progress bar when `progress`.
Result<Model> open_and_load(const std::vector<std::string>& paths, const LoadArgs& args, const Logger& log,
                            bool progress);

void add_inspect_command(CLI::App& app, Context& ctx);
void add_load_command(CLI::App& app, Context& ctx);
void add_demo_command(CLI::App& app, Context& ctx);
void add_verify_command(CLI::App& app, Context& ctx);

// Prints "weightmap: error: <message>" to stderr and returns 1.
int report_error(const std::string& message);

}  // namespace wm::cli
