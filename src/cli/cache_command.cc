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
#include "format/model_path.h"
#include "io/mapped_file.h"
#include "io/page_cache.h"
#include "io/prefetch.h"
#include "io/residency.h"

namespace wm::cli {
namespace {

struct FileReport {
  std::string path;
  uint64_t size = 0;
  uint64_t resident = 0;
  double seconds = 0;  // warm: time to read it in
  struct Range {
    std::string tensor;
    uint64_t offset, nbytes, resident;
  };
  std::vector<Range> tensors;
};

struct CacheArgs {
  std::string action;
  std::vector<std::string> paths;
  bool tensors = false;
  bool json = false;
  unsigned workers = 1;
};

// The files behind the paths, with their tensors when the path parses as a
// model; a path that is not a model is still a file to look at.
Result<TensorTable> files_of(const std::vector<std::string>& paths, const Logger& log) {
  TensorTable all;
  for (const auto& p : paths) {
    auto t = open_model_path(p, {log, {}, false});
    if (t) {
      all.append(std::move(t.value()));
      continue;
    }
    auto f = File::open(p);
    if (!f) return t.error();  // neither a model nor a readable file: the parse error says more
    log.info(fmt::format("'{}' is not a model ({}); showing the file without tensors", p, t.error().message));
    FileInfo info;
    info.path = p;
    info.size = f->size();
    TensorTable one;
    one.files.push_back(info);
    all.append(std::move(one));
  }
  return all;
}

Result<FileReport> act_on(const TensorTable& table, uint32_t index, const CacheArgs& a, const Logger& log) {
  const FileInfo& info = table.files[index];
  FileReport r;
  r.path = info.path;
  auto file = File::open(info.path);
  if (!file) return file.error();
  r.size = file->size();
  if (a.action == "evict") {
    if (Status s = evict_file(*file); !s) return s.error();
  }
  auto shared = std::make_shared<const File>(std::move(file.value()));
  if (r.size == 0) return r;
  auto m = MappedFile::map(shared);
  if (!m) return m.error();
  if (a.action == "warm") {
    PrefetchOptions po;
    po.workers = a.workers;
    po.log = log;
    po.sequential_regions.emplace_back(m->data(), m->size());
    auto t0 = std::chrono::steady_clock::now();
    Prefetcher p({{m->data(), m->size(), shared.get(), 0}}, po);
    if (Status s = p.wait_all(); !s) return s.error();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  auto whole = mapped_residency(m->data(), m->size());
  if (!whole) return Error{info.path, {}, {}, whole.error().message};
  r.resident = whole->resident_bytes;
  if (a.tensors)
    for (const TensorInfo& t : table.tensors) {
      if (t.file != index) continue;
      auto res = mapped_residency(m->data() + t.offset, t.nbytes);
      if (!res) return Error{info.path, t.name, t.offset, res.error().message};
      r.tensors.push_back({t.qualified_name(), t.offset, t.nbytes, res->resident_bytes});
    }
  return r;
}

double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 100.0; }

std::string text_of(const std::vector<FileReport>& reports, const CacheArgs& a) {
  std::string out;
  uint64_t size = 0, resident = 0;
  for (const auto& r : reports) {
    out += fmt::format("{:6.1f}%  {:10.1f} of {:10.1f} MiB  {}", pct(r.resident, r.size), r.resident / 1048576.0,
                       r.size / 1048576.0, r.path);
    if (a.action == "warm" && r.seconds > 0)
      out += fmt::format("  (read in {:.2f} s, {:.2f} GB/s)", r.seconds, static_cast<double>(r.size) / r.seconds / 1e9);
    out += "\n";
    for (const auto& t : r.tensors)
      out += fmt::format("  {:6.1f}%  {:>12}  {:>12}  {}\n", pct(t.resident, t.nbytes), t.offset, t.nbytes, t.tensor);
    size += r.size;
    resident += r.resident;
  }
  if (reports.size() > 1)
    out += fmt::format("{:6.1f}%  {:10.1f} of {:10.1f} MiB  total\n", pct(resident, size), resident / 1048576.0,
                       size / 1048576.0);
  return out;
}

std::string json_of(const std::vector<FileReport>& reports, const CacheArgs& a) {
  JsonWriter j;
  j.begin_object();
  j.key("action").value(a.action);
  uint64_t size = 0, resident = 0;
  j.key("files").begin_array();
  for (const auto& r : reports) {
    j.begin_object();
    j.key("path").value(r.path);
    j.key("bytes").value(r.size);
    j.key("resident_bytes").value(r.resident);
    j.key("fraction").value(r.size ? static_cast<double>(r.resident) / static_cast<double>(r.size) : 1.0);
    if (a.action == "warm") j.key("seconds").value(r.seconds);
    if (a.tensors) {
      j.key("tensors").begin_array();
      for (const auto& t : r.tensors) {
        j.begin_object();
        j.key("name").value(t.tensor);
        j.key("offset").value(t.offset);
        j.key("bytes").value(t.nbytes);
        j.key("resident_bytes").value(t.resident);
        j.end_object();
      }
      j.end_array();
    }
    j.end_object();
    size += r.size;
    resident += r.resident;
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
    auto table = files_of(args->paths, ctx.log);
    if (!table) {
      ctx.exit_code = report_error(table.error().to_string());
      return;
    }
    std::vector<FileReport> reports;
    for (uint32_t f = 0; f < table->files.size(); ++f) {
      auto r = act_on(*table, f, *args, ctx.log);
      if (!r) {
        ctx.exit_code = report_error(r.error().to_string());
        return;
      }
      reports.push_back(std::move(r.value()));
    }
    std::string out = args->json ? json_of(reports, *args) : text_of(reports, *args);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace wm::cli
