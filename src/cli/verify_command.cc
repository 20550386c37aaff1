// `weightmap verify PATH... [load options] [--json]`: loads the model as
// `load` would, then checks every tensor against its file (load/verify.h).
// Exit 1 and the names of the tensors that differ on any mismatch.
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "cli/verify_output.h"
#include "api/model_access.h"

namespace wm::cli {

void add_verify_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> paths;
    LoadArgs load;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Load a model and check every tensor against its file (xxh3 of the bytes; converted tensors by value)");
  cmd->add_option("paths", args->paths, "GGUF/safetensors files, *.safetensors.index.json, or model folders")
      ->required();
  add_load_options(*cmd, args->load);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &ctx] {
    bool progress = !args->json;
    auto model = open_and_load(args->paths, args->load, ctx.log, progress);
    if (!model) {
      ctx.exit_code = report_error(model.error().to_string());
      return;
    }
    ProgressBar bar("verifying");
    VerifyOptions options;
    options.log = ctx.log;
    if (progress) options.progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
    auto report = verify_model(ModelAccess::loaded(*model), options);  // a diagnostic over the library's side
    if (!report) {
      ctx.exit_code = report_error(report.error().to_string());
      return;
    }
    std::string out = args->json ? verify_json(*report, model->report_json()) : verify_text(*report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!report->ok()) {
      ctx.exit_code =
          report_error(fmt::format("{} tensor(s) differ from their files: {}", report->failed, mismatch_names(*report)));
    }
  });
}

}  // namespace wm::cli
