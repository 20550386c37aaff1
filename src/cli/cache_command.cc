// `weightmap cache status|evict|warm PATH... [--tensors] [--json]`: how
// much of each model file is in the page cache (per file, and per tensor
// range with --tensors), like fincore/vmtouch; drop files from the cache;
// or read them in with the parallel prefetch.
#include <cstdio>
#include <memory>

#include "cli/cache_output.h"
#include "cli/commands.h"
#include "weightmap/page_cache.hpp"

namespace wm::cli {

void add_cache_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::string action;
    std::vector<std::string> paths;
    bool tensors = false;
    bool json = false;
    unsigned workers = 1;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "cache", "Page cache of model files: 'status' (residency), 'evict' (drop them), 'warm' (read them in)");
  cmd->add_option("action", args->action, "status, evict or warm")
      ->required()
      ->check([](const std::string& s) {
        return cache_action_from_name(s) ? std::string{} : "expected status, evict or warm";
      });
  cmd->add_option("paths", args->paths, "Model files or folders")->required();
  cmd->add_flag("--tensors", args->tensors, "Also show the residency of every tensor's byte range");
  cmd->add_option("--workers", args->workers, "warm: prefetch streams")->check(CLI::Range(1, 64));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &ctx] {
    CacheOptions o;
    o.per_tensor = args->tensors;
    o.workers = args->workers;
    o.log = [log = ctx.log](LogLevel level, std::string_view m) { log.log(level, m); };
    CacheAction action = *cache_action_from_name(args->action);  // checked by the option's validator
    auto reports = page_cache(action, args->paths, o);
    if (!reports) {
      ctx.exit_code = report_error(reports.error().to_string());
      return;
    }
    std::string out = args->json ? cache_json(*reports, action, args->tensors) : cache_text(*reports, action);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
