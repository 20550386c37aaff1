// `weightmap demo [--dir DIR] [--json]`: writes the sample model set (once)
// and runs the main job on it: inspect it, then load it zero-copy (mapped)
// and by copying (--no-mmap), show the difference, and end with a short
// bench: time to first result of every strategy, cold and warm.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

#include "cli/bench_output.h"
#include "cli/bench_runner.h"
#include "cli/commands.h"
#include "cli/inspect_output.h"
#include "cli/output_units.h"
#include "demo/sample_models.h"
#include "cli/load_output.h"
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
  CLI::App* cmd = app.add_subcommand(
      "demo", "Write a sample model set (GGUF + safetensors), inspect it, load it mapped and copied");
  cmd->add_option("--dir", args->dir, "Where to keep the sample models (default: $WEIGHTMAP_CACHE_DIR/demo, "
                                      "$XDG_CACHE_HOME/weightmap/demo or ~/.cache/weightmap/demo)");
  cmd->add_flag("--json", args->json, "Print the inspect result as JSON");
  cmd->add_option("--scale", args->scale, "Size of the sample set: 1 = ~300 MB, 0 = tiny")->check(CLI::Range(0, 16));
  cmd->callback([args, &ctx] {
    std::string dir = args->dir.empty() ? default_demo_dir() : args->dir;
    auto start = Clock::now();
    bool reused = false;
    auto paths = ensure_sample_models(dir, {args->scale}, ctx.log, &reused);
    if (!paths) {
      ctx.exit_code = report_error(paths.error().to_string());
      return;
    }
    double write_ms = ms_since(start);
    start = Clock::now();
    auto table = open_model(paths->all(), {ctx.log, {}, false});
    if (!table) {
      ctx.exit_code = report_error(table.error().to_string());
      return;
    }
    double parse_ms = ms_since(start);
    std::string out = args->json ? "{\"inspect\":" + inspect_json(*table, {}) : inspect_text(*table, {});
    if (!args->json)
      out += fmt::format("sample models {} in {:.0f} ms; headers parsed in {:.2f} ms\n\n",
                         reused ? "reused" : "written", write_ms, parse_ms);
    // Each model is dropped before the next load, so each growth is its own.
    double ms[2] = {}, anon_mib[2] = {};
    for (bool mmap : {true, false}) {
      LoadArgs load;
      load.mmap = mmap;
      auto model = open_and_load(paths->all(), load, ctx.log, !args->json);
      if (!model) {
        ctx.exit_code = report_error(model.error().to_string());
        return;
      }
      if (args->json)
        out += fmt::format(",\"{}\":{}", mmap ? "load_mmap" : "load_no_mmap", load_json(*model, false));
      else
        out += fmt::format("== load {}\n{}\n", mmap ? "zero-copy (mmap)" : "by copying (--no-mmap)",
                           load_text(*model, false));
      ms[mmap] = model->report().time.end_to_end_ms();
      anon_mib[mmap] = model->report().anon_growth_mib();
    }
    // A short bench of the same set: every strategy once, cold and warm,
    // each in a fresh process, with time to first result against the limits.
    BenchOptions bo;
    bo.paths = paths->all();
    bo.runs = 1;
    bo.self = self_executable();
    bo.log = Logger([](LogLevel, std::string_view) {});  // the table says it all
    auto bench = run_bench(bo);
    if (!bench) {  // the demo's main job is done; say why the bench is missing
      std::fwrite(out.data(), 1, out.size(), stdout);
      if (args->json) std::fputs("}\n", stdout);
      ctx.log.warn(fmt::format("bench skipped: {}", bench.error().to_string()));
      return;
    }
    if (args->json) {
      out += ",\"bench\":" + bench_json(*bench) + "}\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      return;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    fmt::print("mapped load: {:.1f} ms and +{:.1f} MiB anonymous memory; copying load: {:.1f} ms and +{:.1f} MiB "
               "({:.0f}x the time)\n",
               ms[1], anon_mib[1], ms[0], anon_mib[0], ms[1] > 0 ? ms[0] / ms[1] : 0.0);
    fmt::print("\n== bench: time to first result (every weight used once by compute), one run each\n{}",
               bench_text(*bench));
  });
}

}  // namespace wm::cli
