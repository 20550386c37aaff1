// `weightmap verify PATH... [load options] [--json]`: loads the model as
// `load` would, then checks every tensor against its file (load/verify.h).
// Exit 1 and the names of the tensors that differ on any mismatch.
#include <cstdio>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "common/json_writer.h"
#include "api/model_access.h"
#include "verify/verify.h"

namespace wm::cli {
namespace {

std::string verify_text(const VerifyReport& r) {
  std::string out;
  for (const auto& v : r.tensors) {
    if (!v.ok) out += fmt::format("MISMATCH {} ({}): {}\n", v.name, verify_check_name(v.check), v.detail);
    else if (v.check == VerifyCheck::kSkipped) out += fmt::format("skipped  {}: {}\n", v.name, v.detail);
  }
  uint64_t bytes = 0, values = 0;
  for (const auto& v : r.tensors) {
    bytes += v.check == VerifyCheck::kBytes;
    values += v.check == VerifyCheck::kValues;
  }
  out += fmt::format("verified {} tensors ({} by bytes, {} converted by values, {} skipped), {:.1f} MiB in {:.0f} ms: {}\n",
                     r.tensors.size(), bytes, values, r.skipped, static_cast<double>(r.bytes_compared) / (1 << 20), r.ms,
                     r.ok() ? "all match their files" : fmt::format("{} differ", r.failed));
  return out;
}

std::string verify_json(const VerifyReport& r) {
  JsonWriter j;
  j.begin_object();
  j.key("ok").value(r.ok());
  j.key("tensors").value(static_cast<uint64_t>(r.tensors.size()));
  j.key("failed").value(r.failed);
  j.key("skipped").value(r.skipped);
  j.key("bytes_compared").value(r.bytes_compared);
  j.key("ms").value(r.ms);
  j.key("mismatches").begin_array();
  for (const auto& v : r.tensors)
    if (!v.ok) j.value(v.name);
  j.end_array();
  j.key("per_tensor").begin_array();
  for (const auto& v : r.tensors) {
    j.begin_object();
    j.key("name").value(v.name);
    j.key("check").value(verify_check_name(v.check));
    j.key("ok").value(v.ok);
    j.key("loaded_xxh3").value(fmt::format("{:016x}", v.loaded_xxh3));
    j.key("file_xxh3").value(fmt::format("{:016x}", v.file_xxh3));
    if (v.check == VerifyCheck::kValues) j.key("bad_values").value(v.bad_values);
    if (!v.detail.empty()) j.key("detail").value(v.detail);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str() + "\n";
}

}  // namespace

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
    std::string out = args->json ? verify_json(*report) : verify_text(*report);
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!report->ok()) {
      std::string names;
      for (const auto& v : report->tensors)
        if (!v.ok) names += (names.empty() ? "" : ", ") + v.name;
      ctx.exit_code = report_error(fmt::format("{} tensor(s) differ from their files: {}", report->failed, names));
    }
  });
}

}  // namespace wm::cli
