// The `weightmap` command: a thin layer over the library.
#include <cstdio>
#include <string>
#include <vector>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/shard_choice.h"
#include "io/terminal.h"
#include "weightmap/version.hpp"

namespace wm::cli {

int report_error(const std::string& message) {
  fmt::print(stderr, "weightmap: error: {}{}\n", error_rank_prefix(), message);
  return 1;
}

}  // namespace wm::cli

int main(int argc, char** argv) {
  CLI::App app{"weightmap: load model weights (GGUF, safetensors, sharded, diffusers folders, PyTorch checkpoints) through memory mapping"};
  app.require_subcommand(1);
  // Every option is --long or -s; a Windows-style "/name" is a path (an
  // absolute one under wine), never an option.
  app.allow_windows_style_options(false);
  app.set_version_flag("--version", std::string("weightmap ") + wm::version());
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Also print debug messages");

  wm::cli::Context ctx;
  ctx.log = wm::Logger([&verbose](wm::LogLevel level, std::string_view message) {
    if (level == wm::LogLevel::kDebug && !verbose) return;
    fmt::print(stderr, "[{}] {}\n", wm::to_string(level), message);
  });
  wm::cli::add_inspect_command(app, ctx);
  wm::cli::add_load_command(app, ctx);
  wm::cli::add_demo_command(app, ctx);
  wm::cli::add_verify_command(app, ctx);
  wm::cli::add_run_command(app, ctx);
  wm::cli::add_cache_command(app, ctx);
  wm::cli::add_bench_command(app, ctx);
  wm::cli::add_convert_command(app, ctx);
  wm::cli::add_platform_command(app, ctx);

  // UTF-8 whatever the platform's own encoding of argv (io/terminal.h).
  std::vector<std::string> args = wm::utf8_arguments(argc, argv);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  try {
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return ctx.exit_code;
}
