// The files a load holds: each opened once (the parser's descriptor is
// reused), checked to still be what was parsed, optionally locked, then
// mapped where the plan wants. Where a mapping fails, the file is read
// instead: that decision (logged, the plan made again) is made here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "device/device_caps.h"
#include "format/tensor_table.h"
#include "io/file.h"
#include "io/file_lock.h"
#include "io/mapped_file.h"
#include "plan/load_plan.h"

namespace wm {

// Unlocks the files when it goes (or on unlock()): a load that fails
// leaves no lease behind.
struct ModelFiles {
  std::vector<std::shared_ptr<const File>> files;      // per table file
  std::vector<FileLockKind> locks;                     // per file, with locking
  std::vector<std::unique_ptr<MappedFile>> mappings;   // per file, null when not mapped
  std::string lock_report;                             // LoadReport::file_locks: "lease" or "flock" per file

  ModelFiles() = default;
  ModelFiles(ModelFiles&& o) noexcept;
  ModelFiles& operator=(ModelFiles&& o) noexcept;
  ModelFiles(const ModelFiles&) = delete;
  ModelFiles& operator=(const ModelFiles&) = delete;
  ~ModelFiles() { unlock(); }
  void unlock();
};

// Opens (or takes the parser's descriptor for) every file of `table`,
// refusing one that changed since it was parsed; with `lock`, holds a read
// lease (else a shared flock, with a warning) on each.
Result<ModelFiles> open_model_files(const TensorTable& table, bool lock, const Logger& log);

// Maps the files `plan` wants mapped. A file that cannot be mapped is read
// instead: the failure is logged, its reason goes to
// `plan_options.unmappable`, and the plan is made again, which is returned.
Result<LoadPlan> map_model_files(ModelFiles& files, LoadPlan plan, PlanOptions plan_options, const TensorTable& table,
                                 const std::vector<DeviceCaps>& devices, const Logger& log);

}  // namespace wm
