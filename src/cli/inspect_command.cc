// `weightmap inspect PATH... [--json] [--metadata]`
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/inspect_output.h"
#include "format/model_path.h"

namespace wm::cli {

void add_inspect_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> paths;
    bool json = false;
    InspectOptions out;
    std::string variant;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show files, tensors, dtypes, shapes, offsets and alignment");
  cmd->add_option("paths", args->paths, "GGUF/safetensors files, *.safetensors.index.json, or model folders")
      ->required();
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("--metadata", args->out.metadata, "Include file metadata (GGUF key/values, __metadata__)");
  cmd->add_option("--variant", args->variant, "In folders, prefer this weight variant (e.g. fp16)");
  cmd->callback([args, &ctx] {
    // Array items (vocabularies) are read only when they will be shown.
    OpenOptions opts{ctx.log, args->variant, args->out.metadata};
    // Each path is inspected on its own: unrelated files may share tensor names.
    TensorTable table;
    for (const auto& path : args->paths) {
      auto part = open_model_path(path, opts);
      if (!part) {
        ctx.exit_code = report_error(part.error().to_string());
        return;
      }
      table.append(std::move(part.value()));
    }
    std::string out = args->json ? inspect_json(table, args->out) : inspect_text(table, args->out);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
