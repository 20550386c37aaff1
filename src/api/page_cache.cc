// wm::page_cache: residency, eviction and warming of model files (what
// `weightmap cache` shows).
#include "weightmap/page_cache.hpp"

#include <chrono>
#include <fmt/format.h>
#include <memory>

#include "common/error.h"
#include "format/model_path.h"
#include "io/mapped_file.h"
#include "io/page_cache.h"
#include "io/prefetch.h"
#include "io/residency.h"

namespace wm {
namespace {

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
    all.add_file(std::move(info));
  }
  return all;
}

Result<CachedFile> act_on(const TensorTable& table, uint32_t index, CacheAction action, const CacheOptions& o,
                          const Logger& log) {
  const FileInfo& info = table.files()[index];
  CachedFile r;
  r.path = info.path;
  auto file = File::open(info.path);
  if (!file) return file.error();
  r.bytes = file->size();
  if (action == CacheAction::kEvict)
    if (Status s = evict_file(*file); !s) return s.error();
  auto shared = std::make_shared<const File>(std::move(file.value()));
  if (r.bytes == 0) return r;
  auto m = MappedFile::map(shared);
  if (!m) return m.error();
  if (action == CacheAction::kWarm) {
    PrefetchOptions po;
    po.workers = std::max(1u, o.workers);
    po.log = log;
    po.sequential_regions.emplace_back(m->data(), m->size());
    auto t0 = std::chrono::steady_clock::now();
    Prefetcher p({{m->data(), m->size(), shared.get(), 0}}, po);
    if (Status s = p.wait_all(); !s) return s.error();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  auto whole = mapped_residency(m->data(), m->size());
  if (!whole) return Error{info.path, {}, {}, whole.error().message, ErrorCode::kIo};
  r.resident_bytes = whole->resident_bytes;
  if (o.per_tensor)
    for (const TensorInfo& t : table.tensors()) {
      if (t.file != index) continue;
      auto res = mapped_residency(m->data() + t.offset, t.nbytes);
      if (!res) return Error{info.path, t.name, t.offset, res.error().message, ErrorCode::kIo};
      r.tensors.push_back({t.qualified_name(), t.offset, t.nbytes, res->resident_bytes});
    }
  return r;
}

}  // namespace

const char* cache_action_name(CacheAction a) {
  switch (a) {
    case CacheAction::kStatus: return "status";
    case CacheAction::kEvict: return "evict";
    case CacheAction::kWarm: return "warm";
  }
  return "?";
}

std::optional<CacheAction> cache_action_from_name(std::string_view name) {
  for (CacheAction a : {CacheAction::kStatus, CacheAction::kEvict, CacheAction::kWarm})
    if (name == cache_action_name(a)) return a;
  return std::nullopt;
}

Result<std::vector<CachedFile>> page_cache(CacheAction action, const std::vector<std::string>& paths,
                                           const CacheOptions& options) {
  Logger log(options.log);
  auto table = files_of(paths, log);
  if (!table) return table.error();
  std::vector<CachedFile> files;
  for (uint32_t f = 0; f < table->files().size(); ++f) {
    auto r = act_on(*table, f, action, options, log);
    if (!r) return with_code(r.error(), ErrorCode::kIo);
    files.push_back(std::move(r.value()));
  }
  return files;
}

}  // namespace wm
