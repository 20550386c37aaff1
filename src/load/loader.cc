#include "load/loader.h"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "io/process_memory.h"
#include "io/residency.h"
#include "load/copy_executor.h"
#include "load/memory_limit.h"
#include "load/memory_pin.h"
#include "load/model_files.h"
#include "load/tensor_placement.h"
#include "common/size_text.h"
#include "exchange/mode_choice.h"
#include "exchange/run_exchange.h"
#include "exchange/shard_ranks.h"
#include "shard/shard_table.h"

namespace wm {

Result<std::vector<std::shared_ptr<Device>>> make_devices(const std::vector<std::shared_ptr<Device>>& extra) {
  std::vector<std::shared_ptr<Device>> all{make_cpu_device(), make_sim_device()};
  for (const auto& d : extra) {
    if (!d) return Error{{}, {}, {}, "Options::devices holds a null device", ErrorCode::kInvalidArgument};
    const std::string& name = d->caps().name;
    if (name.empty() || name.find_first_of(",=*? ") != std::string::npos)
      return Error{{}, {}, {}, fmt::format("device name '{}' cannot be used in device rules (empty, or has one of "
                                           "',=*? ')", name), ErrorCode::kInvalidArgument};
    for (const auto& other : all)
      if (other->caps().name == name)
        return Error{{}, {}, {}, fmt::format("two devices are named '{}' (\"cpu\" and \"sim\" are built in)", name),
                     ErrorCode::kInvalidArgument};
    all.push_back(d);
  }
  return all;
}

std::vector<DeviceCaps> device_caps_of(const std::vector<std::shared_ptr<Device>>& devices) {
  std::vector<DeviceCaps> caps;
  for (const auto& d : devices) caps.push_back(d->caps());
  return caps;
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// The page-cache phase: hints and prefetch for the mapped tensors, in use
// order (file order: the order compute and engines walk a model).
Result<HintOutcome> apply_page_cache_hints(const TensorTable& table, const ModelFiles& files,
                                           const std::vector<Tensor>& tensors, const LoadOptions& options) {
  HintInputs in;
  in.table = &table;
  in.mappings = &files.mappings;
  in.files = &files.files;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].placement == Placement::kMap) in.mapped_tensors.push_back(i);
  std::sort(in.mapped_tensors.begin(), in.mapped_tensors.end(), [&](size_t a, size_t b) {
    const TensorInfo &x = table.tensors()[a], &y = table.tensors()[b];
    return x.file != y.file ? x.file < y.file : x.offset < y.offset;
  });
  in.hints = options.hints;
  in.prefetch = options.prefetch;
  in.prefetch_workers = options.prefetch_workers;
  in.log = options.log;
  auto outcome = apply_hints(std::move(in));
  if (outcome) options.log.info(fmt::format("page cache hints: {}", outcome->applied));
  return outcome;
}

// What the phases measured, and what only the whole load can say.
struct PhaseTimings {
  Clock::time_point start;
  ProcessMemory memory_before;
  double plan_ms = 0, map_ms = 0, hints_ms = 0;
};

// The one place the LoadReport is assembled, from each phase's part.
LoadReport assemble_report(const LoadOptions& options, const PhaseTimings& timings, const LoadPlan& plan,
                           const ModelFiles& files, const PlacedTensors& placed, const HintOutcome& hints,
                           const CopyReport& copy, const PinnedMemory& pinned, const TensorTable& table,
                           ShardReport shard) {
  LoadReport r;
  r.shard = std::move(shard);
  r.memory_before = timings.memory_before;
  r.time.parse_ms = options.parse_ms;
  r.time.plan_ms = timings.plan_ms;
  r.time.map_ms = timings.map_ms;
  r.file_locks = files.lock_report;
  r.host_copy_bytes = placed.host_copy_bytes;
  r.device_bytes = placed.device_bytes;
  r.hints_requested = options.hints.to_string();
  r.hints_applied = hints.applied;
  r.residency_before = hints.residency_before;
  r.prefetch_mode = prefetch_mode_name(options.prefetch);
  r.time.hints_ms = timings.hints_ms;
  r.io_mode = copy.io_mode;
  r.cache_window_bytes = copy.cache_window_bytes;
  r.cache_dropped_bytes = copy.cache_dropped_bytes;
  r.threads = copy.threads;
  r.staging_budget_bytes = copy.staging_budget_bytes;
  r.staging_peak_bytes = copy.staging_peak_bytes;
  r.staging_device_bytes = copy.staging_device_bytes;
  r.time.read_ms = copy.read_ms;
  r.time.convert_ms = copy.convert_ms;
  r.time.upload_ms = copy.upload_ms;
  r.mlocked_bytes = pinned.bytes;
  r.mlock_error = pinned.first_refusal;
  r.tensors = placed.tensors.size();
  for (size_t i = 0; i < placed.tensors.size(); ++i) {
    const Tensor& t = placed.tensors[i];
    r.bytes_total += table.tensors()[i].nbytes;
    r.tensors_mapped += t.placement == Placement::kMap;
    r.tensors_copied += t.placement == Placement::kCopy;
    r.tensors_converted += t.placement == Placement::kConvert;
    r.tensors_host_resident += t.host_resident;
  }
  r.bytes_mapped = plan.bytes_mapped;
  r.bytes_copied = plan.bytes_copied;
  r.bytes_converted = plan.bytes_converted;
  r.time.total_ms = ms_since(timings.start);
  r.memory = read_process_memory();
  for (const auto& f : files.files) {
    r.file_bytes += f->size();
    // Sampled: an exact walk of a 30 GB model's pages would cost the load a second.
    if (auto res = page_cache_residency(*f, false)) r.page_cache_bytes += res->resident_bytes;
  }
  return r;
}

// The phases in order: devices, files, plan, memory limit, mappings (and
// the plan again where one failed), placement, page-cache hints, copies,
// pinning; then the model is built from their parts.
Result<LoadedModel> run_load(TensorTable table, const LoadOptions& options) {
  PhaseTimings timings;
  timings.start = Clock::now();
  timings.memory_before = read_process_memory();
  auto devices = make_devices(options.devices);
  const bool ranks = options.shard.world > 1;
  const uint64_t signature = ranks ? model_signature(table) : 0;  // before the cut: the same on every rank
  auto shard = devices ? shard_table(table, options.shard) : Result<ShardReport>(devices.error());
  if (ranks) {
    // Every rank agrees that each got this far, then the mode; in the
    // exchange mode the table's files become this rank's staged copies.
    ShardReport unused;
    Status ready = shard ? Status{} : Status{shard.error()};
    if (Status s = prepare_shard_ranks(table, signature, ready, options.shard, shard ? shard.value() : unused,
                                       options.log);
        !s)
      return s.error();
  }
  if (!shard) return shard.error();
  const std::vector<DeviceCaps> caps = device_caps_of(*devices);
  if (options.shard.world > 1 || !options.shard.rules.empty())
    options.log.info(fmt::format("shard: rank {} of {}: {} tensors by rows, {} by columns, {} whole; {} of {} bytes",
                                 shard->rank, shard->world, shard->tensors_rows, shard->tensors_cols,
                                 shard->tensors_replicated, shard->bytes, shard->full_bytes));
  auto files = open_model_files(table, options.lock_files, options.log);
  if (!files) return files.error();

  auto t = Clock::now();
  auto plan = make_plan(table, caps, options.plan);
  if (!plan) return plan.error();
  timings.plan_ms = ms_since(t);
  for (const std::string& rule : plan->unused_rules)
    options.log.warn(fmt::format("{} matches no tensor of this model: it does nothing", rule));
  const std::string first_file = table.files().empty() ? std::string() : table.files()[0].path;
  if (Status s = check_memory_limit(*plan, options.staging_bytes, options.max_memory_bytes, first_file); !s)
    return s.error();

  t = Clock::now();
  plan = map_model_files(*files, std::move(plan.value()), options.plan, table, caps, options.log);
  if (!plan) return plan.error();
  timings.map_ms = ms_since(t);

  auto placed = place_tensors(table, *plan, files->mappings, *devices);
  if (!placed) return placed.error();
  t = Clock::now();
  auto hints = apply_page_cache_hints(table, *files, placed->tensors, options);
  if (!hints) return hints.error();
  timings.hints_ms = ms_since(t);

  CopyOptions copy_options{options.threads, options.staging_bytes, options.io, options.cache_window_bytes,
                           options.log, options.progress};
  auto copy = run_copies({&table, &files->files, &*placed, &*devices}, copy_options);
  if (!copy) return copy.error();
  if (shard->mode == shard_mode_name(ShardMode::kExchange)) {
    // The staged pages of column and padded slices were only copied from.
    if (auto freed = release_gathered(table))
      options.log.info(fmt::format("shard: exchange: freed {} of the staged copy that only gathered slices used",
                                   human_bytes(*freed)));
    else
      options.log.warn(fmt::format("shard: exchange: the staged pages of gathered slices stay held: {}",
                                   freed.error().to_string()));
  }
  PinnedMemory pinned;
  if (options.mlock) pinned = pin_memory(files->mappings, placed->tensors, table, options.log);

  LoadReport report = assemble_report(options, timings, *plan, *files, *placed, *hints, *copy, pinned, table,
                                     std::move(shard.value()));
  return LoadedModel(LoadedModel::Parts{std::move(table), std::move(devices.value()), std::move(files.value()),
                                        std::move(placed.value()), std::move(hints.value()), std::move(pinned),
                                        std::move(report)});
}

}  // namespace

Result<uint64_t> anon_bytes_needed(TensorTable table, const LoadOptions& options) {
  if (auto shard = shard_table(table, options.shard); !shard) return shard.error();
  auto devices = make_devices(options.devices);
  if (!devices) return devices.error();
  auto plan = make_plan(table, device_caps_of(*devices), options.plan);
  if (!plan) return plan.error();
  return anon_bytes_of(*plan, options.staging_bytes);
}

Result<LoadedModel> load_model(TensorTable table, const LoadOptions& options) {
  std::string first_file = table.files().empty() ? std::string() : table.files()[0].path;
  try {
    return run_load(std::move(table), options);
  } catch (const std::bad_alloc&) {
    return Error{first_file, {}, {}, "out of memory while loading (building the plan, report or buffers)"};
  }
}

}  // namespace wm
