// `weightmap run PATH... [load options] [--pipeline A,B,C | --sequential]
//  [--evict] [--json]`: load, use every weight once (the compute pass), and
// report load time, time to first result and the output checksum. With
// --pipeline (components of one model folder) or --sequential (one stage
// per PATH), each stage is loaded, used, released and evicted before the
// next, so components that together exceed memory run one after another.
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <xxhash.h>

#include "cli/commands.h"
#include "cli/run_output.h"
#include "cli/run_stage.h"

namespace wm::cli {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(start, end - start);
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

struct RunArgs {
  std::vector<std::string> paths;
  LoadArgs load;
  std::string pipeline;
  bool sequential = false;
  int evict = 0;  // +1 --evict, -1 --no-evict, 0 the default
  bool json = false;
};

Result<RunSummary> run_all(const RunArgs& a, const Context& ctx) {
  RunSummary summary;
  const bool staged = !a.pipeline.empty() || a.sequential;
  StageOptions so;
  so.evict = a.evict == 0 ? staged : a.evict > 0;  // a pipeline frees each component's cache for the next
  so.compute_threads = a.load.threads;
  const bool progress = !a.json;
  auto add = [&](Result<StageResult> r) -> Status {
    if (!r) return r.error();
    summary.stages.push_back(std::move(r.value()));
    return {};
  };
  if (!a.pipeline.empty()) {
    if (a.paths.size() != 1)
      return Error{{}, {}, {}, "--pipeline takes one PATH (a model folder whose subfolders are the components)"};
    for (const std::string& component : split_list(a.pipeline))
      if (Status s = add(run_stage(a.paths, {component}, component, a.load, so, ctx, progress)); !s) return s.error();
  } else if (a.sequential) {
    for (const std::string& path : a.paths)
      if (Status s = add(run_stage({path}, {}, path, a.load, so, ctx, progress)); !s) return s.error();
  } else {
    std::string name = a.paths.size() == 1 ? a.paths[0] : fmt::format("{} paths", a.paths.size());
    if (Status s = add(run_stage(a.paths, {}, name, a.load, so, ctx, progress)); !s) return s.error();
  }
  // The total checksum covers every stage's, in order; one stage's is its own.
  if (summary.stages.size() == 1) {
    summary.checksum = summary.stages[0].checksum;
  } else {
    std::vector<uint64_t> sums;
    for (const auto& s : summary.stages) sums.push_back(s.checksum);
    summary.checksum = XXH3_64bits(sums.data(), sums.size() * sizeof(uint64_t));
  }
  for (const auto& s : summary.stages) {
    summary.load_ms += s.load_ms;
    summary.file_bytes += s.file_bytes;
    summary.peak_rss_kib = std::max(summary.peak_rss_kib, s.peak_rss_kib);
  }
  summary.ttfr_ms = summary.stages.empty() ? 0 : summary.stages.back().ttfr_ms;
  return summary;
}

}  // namespace

void add_run_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RunArgs>();
  args->load.prefetch = "background";  // the pass waits per tensor: compute overlaps the reads
  CLI::App* cmd = app.add_subcommand(
      "run", "Load, use every weight once (compute pass), report load time, time to first result and checksum");
  cmd->add_option("paths", args->paths, "Model files or folders")->required();
  add_load_options(*cmd, args->load);
  cmd->add_option("--pipeline", args->pipeline,
                  "Components of one model folder to run one after another, e.g. text_encoder,transformer,vae");
  cmd->add_flag("--sequential", args->sequential, "Run each PATH as its own stage, one after another");
  cmd->add_flag("--evict,!--no-evict", args->evict,
                "Drop each stage's files from the page cache after releasing it (default: on with --pipeline and "
                "--sequential)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &ctx] {
    if (!args->pipeline.empty() && args->sequential) {
      ctx.exit_code = report_error("--pipeline and --sequential exclude each other");
      return;
    }
    auto summary = run_all(*args, ctx);
    if (!summary) {
      ctx.exit_code = report_error(summary.error().to_string());
      return;
    }
    std::string out = args->json ? run_json(*summary) : run_text(*summary);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
