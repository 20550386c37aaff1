// `weightmap convert IN... OUT [--type RULES] [--format gguf|safetensors]
//  [--shard-size SIZE] [--staging-mb N] [--io MODE] [--json]`: writes a model
// as GGUF or safetensors (convert/convert_model.h does the work).
#include <cstdio>
#include <fmt/format.h>
#include <memory>

#include "cli/commands.h"
#include "cli/convert_output.h"
#include "cli/progress_bar.h"
#include "common/size_text.h"
#include "convert/convert_model.h"

namespace wm::cli {
namespace {

struct ConvertArgs {
  std::vector<std::string> paths;  // inputs, then OUT
  std::string type_rules;
  std::string format;
  std::string shard_size;
  uint64_t staging_mb = 64;
  std::string io = "read";
  std::string variant;
  bool json = false;
};

Result<ConvertOptions> options_from(const ConvertArgs& a, const Logger& log) {
  ConvertOptions o;
  o.type_rules = a.type_rules;
  if (!a.format.empty()) {
    o.format = convert_format_from_name(a.format);
    if (!o.format) return Error{{}, {}, {}, fmt::format("--format: unknown format '{}' (gguf, safetensors)", a.format)};
  }
  if (!a.shard_size.empty()) {
    auto bytes = parse_size(a.shard_size);
    if (!bytes) return Error{{}, {}, {}, fmt::format("--shard-size: {}", bytes.error().message)};
    o.shard_bytes = *bytes;
  }
  o.staging_bytes = a.staging_mb << 20;
  auto io = io_mode_from_name(a.io);
  if (!io) return Error{{}, {}, {}, fmt::format("--io: unknown mode '{}' (read, direct, uring)", a.io)};
  o.io = *io;
  o.variant = a.variant;
  o.log = log;
  return o;
}

}  // namespace

void add_convert_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Write a model as GGUF or safetensors (by OUT's extension), converting dtypes with --type");
  cmd->add_option("paths", args->paths,
                  "IN... OUT: models as `load` takes them, then the output (.gguf, .safetensors, "
                  ".safetensors.index.json, or a folder)")
      ->required()
      ->expected(2, -1);
  cmd->add_option("--type", args->type_rules, "dtype to write, e.g. F16 or '*.weight=F16,*norm*=F32' (as load --type)");
  cmd->add_option("--format", args->format, "gguf or safetensors (default: from OUT's name)");
  cmd->add_option("--shard-size", args->shard_size,
                  "safetensors: split into shards of at most this size (e.g. 5G) with a model.safetensors.index.json");
  cmd->add_option("--staging-mb", args->staging_mb, "The one buffer tensor bytes stream through, MiB")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--io", args->io, "How tensor bytes are read: read (pread), direct (O_DIRECT), uring (io_uring)")
      ->capture_default_str();
  cmd->add_option("--variant", args->variant, "In folders, prefer this weight variant (e.g. fp16)");
  cmd->add_flag("--json", args->json, "Print one JSON object (also on failure)");
  cmd->callback([args, &ctx] {
    auto fail = [&](const Error& e) {
      if (args->json) {
        std::string out = convert_error_json(e);
        std::fwrite(out.data(), 1, out.size(), stdout);
      }
      ctx.exit_code = report_error(e.to_string());
    };
    auto options = options_from(*args, ctx.log);
    if (!options) return fail(options.error());
    ProgressBar bar("converting");
    if (!args->json) options->progress = [&bar](uint64_t done, uint64_t total) { bar.update(done, total); };
    std::vector<std::string> inputs(args->paths.begin(), args->paths.end() - 1);
    auto report = convert_model(inputs, args->paths.back(), *options);
    if (!report) return fail(report.error());
    std::string out = args->json ? convert_json(*report) : convert_text(*report);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
