// `weightmap cache status|evict|warm PATH... [--tensors] [--json]`: how
// much of each model file is in the page cache (per file, and per tensor
// range with --tensors), like fincore/vmtouch; drop files from the cache;
// or read them in with the parallel prefetch.
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <memory>

#include "cli/commands.h"
#include "common/json_writer.h"
#include "weightmap/page_cache.hpp"

namespace wm::cli {
namespace {

struct CacheArgs {
  std::string action;
  std::vector<std::string> paths;
  bool tensors = false;
  bool json = false;
  unsigned workers = 1;
};

double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 100.0; }

std::string text_of(const std::vector<CachedFile>& reports, const CacheArgs& a) {
  std::string out;
  uint64_t size = 0, resident = 0;
  for (const auto& r : reports) {
    out += fmt::format("{:6.1f}%  {:10.1f} of {:10.1f} MiB  {}", pct(r.resident_bytes, r.bytes), r.resident_bytes / 1048576.0,
                       r.bytes / 1048576.0, r.path);
    if (a.action == "warm" && r.seconds > 0)
      out += fmt::format("  (read in {:.2f} s, {:.2f} GB/s)", r.seconds, static_cast<double>(r.bytes) / r.seconds / 1e9);
    out += "\n";
    for (const auto& t : r.tensors)
      out += fmt::format("  {:6.1f}%  {:>12}  {:>12}  {}\n", pct(t.resident_bytes, t.nbytes), t.offset, t.nbytes, t.tensor);
    size += r.bytes;
    resident += r.resident_bytes;
  }
  if (reports.size() > 1)
    out += fmt::format("{:6.1f}%  {:10.1f} of {:10.1f} MiB  total\n", pct(resident, size), resident / 1048576.0,
                       size / 1048576.0);
  return out;
}

std::string json_of(const std::vector<CachedFile>& reports, const CacheArgs& a) {
  JsonWriter j;
  j.begin_object();
  j.key("action").value(a.action);
  uint64_t size = 0, resident = 0;
  j.key("files").begin_array();
  for (const auto& r : reports) {
    j.begin_object();
    j.key("path").value(r.path);
    j.key("bytes").value(r.bytes);
    j.key("resident_bytes").value(r.resident_bytes);
    j.key("fraction").value(r.bytes ? static_cast<double>(r.resident_bytes) / static_cast<double>(r.bytes) : 1.0);
    if (a.action == "warm") j.key("seconds").value(r.seconds);
    if (a.tensors) {
      j.key("tensors").begin_array();
      for (const auto& t : r.tensors) {
        j.begin_object();
        j.key("name").value(t.tensor);
        j.key("offset").value(t.offset);
        j.key("bytes").value(t.nbytes);
        j.key("resident_bytes").value(t.resident_bytes);
        j.end_object();
      }
      j.end_array();
    }
    j.end_object();
    size += r.bytes;
    resident += r.resident_bytes;
  }
  j.end_array();
  j.key("bytes").value(size);
  j.key("resident_bytes").value(resident);
  j.end_object();
  return j.str() + "\n";
}

}  // namespace

void add_cache_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<CacheArgs>();
  CLI::App* cmd = app.add_subcommand(
      "cache", "Page cache of model files: 'status' (residency), 'evict' (drop them), 'warm' (read them in)");
  cmd->add_option("action", args->action, "status, evict or warm")
      ->required()
      ->check(CLI::IsMember({"status", "evict", "warm"}));
  cmd->add_option("paths", args->paths, "Model files or folders")->required();
  cmd->add_flag("--tensors", args->tensors, "Also show the residency of every tensor's byte range");
  cmd->add_option("--workers", args->workers, "warm: prefetch streams")->check(CLI::Range(1, 64));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args, &ctx] {
    CacheOptions o;
    o.per_tensor = args->tensors;
    o.workers = args->workers;
    o.log = [log = ctx.log](LogLevel level, std::string_view m) { log.log(level, m); };
    CacheAction action = args->action == "evict" ? CacheAction::kEvict
                         : args->action == "warm" ? CacheAction::kWarm
                                                  : CacheAction::kStatus;
    auto reports = page_cache(action, args->paths, o);
    if (!reports) {
      ctx.exit_code = report_error(reports.error().to_string());
      return;
    }
    std::string out = args->json ? json_of(*reports, *args) : text_of(*reports, *args);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
