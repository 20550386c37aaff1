// `weightmap bench PATH... [--cold] [--warm] [--runs N] [--strategies LIST]
//  [--json] [--plot FILE.png]`: every load strategy in a fresh child process,
// cold and warm, medians of N runs, against the limits measured on the same
// files in the same run.
#include <cstdio>
#include <fmt/format.h>

#include "cli/bench_output.h"
#include "cli/bench_runner.h"
#include "cli/commands.h"
#include "io/child_process.h"
#include "io/platform.h"

namespace wm::cli {

std::string self_executable() {
  // Where the path cannot be found, the children are started by name, which
  // works when weightmap is on PATH.
  auto path = this_executable_path();
  return path ? *path : std::string("weightmap");
}

void add_bench_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> paths;
    bool cold = false, warm = false, json = false;
    int runs = 3;
    unsigned threads = 2;
    std::string strategies, plot;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time to first result of every load strategy, cold and warm, each in a fresh process, against the limits");
  cmd->add_option("paths", args->paths, "Model files or folders")->required();
  cmd->add_flag("--cold", args->cold, "Cold runs (files evicted first); with neither --cold nor --warm: both");
  cmd->add_flag("--warm", args->warm, "Warm runs (files read once first)");
  cmd->add_option("--runs", args->runs, "Runs per strategy and cache state (median reported)")->check(CLI::Range(1, 100));
  cmd->add_option("-t,--threads", args->threads, "Workers for each run and the bandwidth probes")->check(CLI::Range(1, 256));
  cmd->add_option("--strategies", args->strategies, "Comma-separated subset of mmap,mmap-prefetch,auto,read,direct,uring");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_option("--plot", args->plot, "Write a PNG bar chart of TTFR per strategy (needs gnuplot)");
  cmd->callback([args, &ctx] {
    BenchOptions o;
    o.paths = args->paths;
    o.cold = args->cold || !args->warm;
    o.warm = args->warm || !args->cold;
    // Cold runs need the files evicted first. Where the OS cannot (Windows),
    // the default runs warm only and says so; an explicit --cold is refused
    // by the first eviction, with the platform's reason.
    if (!args->cold && !args->warm && !wm::supports(wm::Capability::kPageCacheEviction)) {
      o.cold = false;
      ctx.log.warn("no cold runs: " + wm::unsupported_reason(wm::Capability::kPageCacheEviction));
    }
    o.runs = args->runs;
    o.threads = args->threads;
    o.self = self_executable();
    o.log = ctx.log;
    for (size_t start = 0; start < args->strategies.size();) {
      size_t end = args->strategies.find(',', start);
      if (end == std::string::npos) end = args->strategies.size();
      if (end > start) o.strategies.push_back(args->strategies.substr(start, end - start));
      start = end + 1;
    }
    auto report = run_bench(o);
    if (!report) {
      ctx.exit_code = report_error(report.error().to_string());
      return;
    }
    std::string out = args->json ? bench_json(*report) : bench_text(*report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!args->plot.empty()) {
      if (Status s = bench_plot(*report, args->plot); !s) {
        ctx.exit_code = report_error(s.error().to_string());
        return;
      }
      if (!args->json) fmt::print("plot written to {}\n", args->plot);
    }
  });
}

}  // namespace wm::cli
