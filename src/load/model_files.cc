#include "load/model_files.h"

#include <fmt/format.h>
#include <utility>

namespace wm {
namespace {

// The file as parsed, or an error saying how it changed since.
Result<std::shared_ptr<const File>> reopen(const FileInfo& info) {
  if (info.opened) {  // opened by the parser: no second open
    // Still the file that was parsed? (truncated, rewritten, replaced or
    // removed since, it may hold other bytes at the parsed offsets)
    if (Status s = info.opened->check_unchanged(); !s) {
      Error e = s.error();
      e.message = "file changed since it was parsed: " + e.message;
      return e;
    }
    return info.opened;
  }
  auto file = File::open(info.path);
  if (!file) return file.error();
  if (file->size() != info.size)
    return Error{info.path, {}, {},
                 fmt::format("file changed since it was parsed (size {} then, {} now)", info.size, file->size()),
                 ErrorCode::kChangedOnDisk};
  // Same size is not enough: a file saved over (new inode) or rewritten
  // in place (new mtime) may hold other bytes at the parsed offsets.
  if (info.identity.size != 0 && file->identity() != info.identity)
    return Error{info.path, {}, {},
                 "file changed since it was parsed (replaced or modified: inode or mtime differs); open it again",
                 ErrorCode::kChangedOnDisk};
  return std::make_shared<const File>(std::move(file.value()));
}

Status lock(const File& file, ModelFiles& out, const Logger& log) {
  auto held = lock_file(file);
  if (!held) return held.error();
  out.locks.push_back(held->kind);
  out.lock_report += fmt::format("{}{}", out.lock_report.empty() ? "" : ",", file_lock_name(held->kind));
  if (held->kind == FileLockKind::kLease)
    log.info(fmt::format("--lock: read lease on '{}'", file.path()));
  else
    log.warn(fmt::format("--lock: {} for '{}'; holding a shared flock instead, which holds off only writers that "
                         "flock",
                         held->why_not_lease, file.path()));
  return {};
}

}  // namespace

ModelFiles::ModelFiles(ModelFiles&& o) noexcept
    : files(std::move(o.files)), locks(std::exchange(o.locks, {})), mappings(std::move(o.mappings)),
      lock_report(std::move(o.lock_report)) {}

ModelFiles& ModelFiles::operator=(ModelFiles&& o) noexcept {
  if (this != &o) {
    unlock();
    files = std::move(o.files);
    locks = std::exchange(o.locks, {});
    mappings = std::move(o.mappings);
    lock_report = std::move(o.lock_report);
  }
  return *this;
}

void ModelFiles::unlock() {
  for (size_t f = 0; f < locks.size() && f < files.size(); ++f)
    if (locks[f] != FileLockKind::kNone) unlock_file(*files[f], locks[f]);
  locks.clear();
}

Result<ModelFiles> open_model_files(const TensorTable& table, bool lock_files, const Logger& log) {
  ModelFiles out;
  for (const FileInfo& info : table.files()) {
    auto file = reopen(info);
    if (!file) return file.error();
    out.files.push_back(std::move(file.value()));
    if (lock_files)
      if (Status s = lock(*out.files.back(), out, log); !s) return s.error();
  }
  out.mappings.resize(out.files.size());
  return out;
}

Result<LoadPlan> map_model_files(ModelFiles& files, LoadPlan plan, PlanOptions plan_options, const TensorTable& table,
                                 const std::vector<DeviceCaps>& devices, const Logger& log) {
  bool failed = false;
  for (size_t f = 0; f < files.files.size(); ++f) {
    if (!plan.map_file[f]) continue;
    const std::string& path = files.files[f]->path();
    auto m = MappedFile::map(files.files[f]);
    if (!m) {
      log.warn(fmt::format("cannot map '{}': {}; reading it instead", path, m.error().message));
      plan_options.unmappable.resize(files.files.size());
      plan_options.unmappable[f] = m.error().message;
      failed = true;
      continue;
    }
    log.info(fmt::format("using mmap for '{}'", path));
    files.mappings[f] = std::make_unique<MappedFile>(std::move(m.value()));
  }
  if (!failed) return plan;
  return make_plan(table, devices, plan_options);  // the unmappable files read instead
}

}  // namespace wm
