// `weightmap demo [--dir DIR] [--json]`: writes the sample model set (once)
// and runs the main job on it. For now the job is `inspect`; loading,
// compute and comparison join as they land.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/inspect_output.h"
#include "demo/sample_models.h"
#include "format/model_path.h"

namespace wm::cli {
namespace {

std::string default_demo_dir() {
  if (const char* d = std::getenv("WEIGHTMAP_CACHE_DIR"); d && *d) return std::string(d) + "/demo";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/weightmap/demo";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/weightmap/demo";
  return "/tmp/weightmap-demo";
}

}  // namespace

void add_demo_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::string dir;
    bool json = false;
    int scale = 1;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("demo", "Write a sample model set (GGUF + safetensors) and inspect it");
  cmd->add_option("--dir", args->dir, "Where to keep the sample models (default: $WEIGHTMAP_CACHE_DIR/demo, "
                                      "$XDG_CACHE_HOME/weightmap/demo or ~/.cache/weightmap/demo)");
  cmd->add_flag("--json", args->json, "Print the inspect result as JSON");
  cmd->add_option("--scale", args->scale, "Size of the sample set: 1 = ~300 MB, 0 = tiny")->check(CLI::Range(0, 16));
  cmd->callback([args, &ctx] {
    std::string dir = args->dir.empty() ? default_demo_dir() : args->dir;
    auto start = std::chrono::steady_clock::now();
    bool reused = false;
    auto paths = ensure_sample_models(dir, {args->scale}, ctx.log, &reused);
    if (!paths) {
      ctx.exit_code = report_error(paths.error().to_string());
      return;
    }
    double write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    auto table = open_model(paths->all(), {ctx.log, {}});
    if (!table) {
      ctx.exit_code = report_error(table.error().to_string());
      return;
    }
    double parse_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::string out = args->json ? inspect_json(*table, {}) : inspect_text(*table, {});
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!args->json)
      fmt::print("sample models {} in {:.0f} ms; headers parsed in {:.2f} ms\n",
                 reused ? "reused" : "written", write_ms, parse_ms);
  });
}

}  // namespace wm::cli
