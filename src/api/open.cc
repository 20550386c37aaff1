// wm::open: parse, plan, load and apply LoRAs in one call, each file opened
// once (the parser's File goes on to the loader), all of it timed.
#include <atomic>
#include <chrono>
#include <fmt/format.h>

#include "api/model_access.h"
#include "api/named_devices.h"
#include "common/error.h"
#include "exchange/rank_agreement.h"
#include "format/component_select.h"
#include "format/model_path.h"
#include "io/file.h"
#include "io/mmap_hints.h"
#include "load/loader.h"
#include "lora/apply.h"
#include "plan/name_rules.h"

namespace wm {
namespace {

Error invalid(std::string message) { return Error{{}, {}, {}, std::move(message), ErrorCode::kInvalidArgument}; }

// Options as the internal stages take them.
Result<LoadOptions> load_options(const Options& o) {
  LoadOptions lo;
  lo.plan.use_mmap = o.use_mmap;
  lo.plan.offload_to_cpu = o.offload_to_cpu;
  if (!o.device_rules.empty()) {
    auto rules = NameRules::parse(o.device_rules);
    if (!rules) return invalid("device rules: " + rules.error().message);
    lo.plan.device_rules = std::move(rules.value());
  }
  lo.devices = o.devices;
  if (Status s = add_named_devices(lo.plan.device_rules, lo.devices); !s) return s.error();
  if (!o.type_rules.empty()) {
    auto rules = NameRules::parse(o.type_rules);
    if (!rules) return invalid("type rules: " + rules.error().message);
    lo.plan.type_rules = std::move(rules.value());
  }
  if (o.threads == 0) return invalid("threads must be at least 1");
  lo.threads = o.threads;
  lo.staging_bytes = o.staging_bytes;
  const std::string* hints_flag = o.hints.empty() ? nullptr : &o.hints;
  auto hints = resolve_mmap_hints(hints_flag);
  if (!hints) {
    Error e = hints.error();
    e.code = ErrorCode::kInvalidArgument;
    return e;
  }
  lo.hints = hints.value();
  lo.prefetch = o.prefetch;
  lo.prefetch_workers = std::max(1u, o.prefetch_workers);
  lo.io = o.io;
  lo.cache_window_bytes = o.cache_window_bytes;
  lo.max_memory_bytes = o.max_memory_bytes;
  lo.lock_files = o.lock_files;
  lo.mlock = o.mlock;
  lo.shard = o.shard;
  lo.log = Logger(o.log);
  lo.progress = o.progress;
  return lo;
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// The load, then the LoRAs: the model open() returns.
Result<Model> load_and_patch(TensorTable table, const LoadOptions& lo, const Options& options) {
  auto loaded = load_model(std::move(table), lo);
  if (!loaded) return with_code(loaded.error(), ErrorCode::kIo);
  if (!options.loras.empty()) {
    LoraOptions lora = options.lora;
    if (!lora.log.enabled()) lora.log = lo.log;
    auto applied = apply_loras(*loaded, options.loras, lora);
    if (!applied) return with_code(applied.error(), ErrorCode::kBadFormat);
    loaded->refresh_memory();  // the report's memory is after everything open() did
  }
  return ModelAccess::wrap(std::move(loaded.value()));
}

Result<Model> open_impl(const std::vector<std::string>& paths, const Options& options) {
  if (paths.empty()) return invalid("no model paths given");
  auto lo = load_options(options);
  if (!lo) return lo.error();
  auto start = std::chrono::steady_clock::now();
  OpenOptions oo;
  oo.log = lo->log;
  oo.variant = options.variant;
  oo.metadata_arrays = options.metadata_arrays;
  auto table = open_model(paths, oo);
  const bool ranks = options.shard.collective && options.shard.world > 1;
  if (ranks) {
    // A rank that cannot parse its model tells the others, which would
    // otherwise wait for it in the load's first collective.
    Status parsed = table ? Status{} : Status{with_code(table.error(), ErrorCode::kBadFormat)};
    if (Status s = agree_ranks(*options.shard.collective, parsed); !s) return s.error();
  }
  if (!table) return with_code(table.error(), ErrorCode::kBadFormat);
  if (!options.components.empty()) {
    TensorTable selected;
    for (const std::string& c : options.components) {
      auto part = select_component(*table, c);
      if (!part) return with_code(part.error(), ErrorCode::kNotFound);
      selected.append(std::move(part.value()));
    }
    if (Status s = selected.check_unique_names(); !s) return with_code(s.error(), ErrorCode::kInvalidArgument);
    table = std::move(selected);
  }
  lo->parse_ms = ms_since(start);
  static std::atomic<bool> limit_logged{false};
  if (auto raised = open_file_limit_raised(); raised && !limit_logged.exchange(true))
    lo->log.info(fmt::format("raised the soft open-file limit from {} to {} (RLIMIT_NOFILE) to open the model's "
                             "files", raised->first, raised->second));
  Result<Model> model = load_and_patch(std::move(table.value()), *lo, options);
  if (ranks) {
    // The last word: a rank that failed after the ranks' exchange (memory,
    // a device, a LoRA) fails every rank, naming itself.
    Status done = model ? Status{} : Status{model.error()};
    if (Status s = agree_ranks(*options.shard.collective, done); !s) return s.error();
  }
  return model;
}

}  // namespace

Result<Model> open(const std::vector<std::string>& paths, const Options& options) {
  try {
    return open_impl(paths, options);
  } catch (const std::bad_alloc&) {
    return Error{paths.empty() ? std::string() : paths[0], {}, {}, "out of memory while opening the model",
                 ErrorCode::kOutOfMemory};
  }
}

Result<Model> open(const std::string& path, const Options& options) {
  return open(std::vector<std::string>{path}, options);
}

}  // namespace wm
