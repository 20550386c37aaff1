// The C options struct: its defaults (those of wm::Options{}) and its
// translation into wm::Options.
#include "capi/options.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "capi/capi.h"
#include "capi/collective_adapter.h"
#include "capi/device_adapter.h"

namespace wm::capi {
namespace {

std::string text(const char* s) { return s ? std::string(s) : std::string(); }

wm_status strings(const char* const* items, size_t n, const char* what, std::vector<std::string>& out) {
  if (n > 0 && !items) return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.{} is NULL but its count is {}", what, n));
  for (size_t i = 0; i < n; ++i) {
    if (!items[i]) return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.{}[{}] is NULL", what, i));
    out.emplace_back(items[i]);
  }
  return WM_OK;
}

wm_status lora_mode(wm_lora_mode m, LoraApplyMode& out) {
  switch (m) {
    case WM_LORA_AUTO: out = LoraApplyMode::kAuto; return WM_OK;
    case WM_LORA_IMMEDIATELY: out = LoraApplyMode::kImmediately; return WM_OK;
    case WM_LORA_AT_RUNTIME: out = LoraApplyMode::kAtRuntime; return WM_OK;
  }
  return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("lora mode {} is not a wm_lora_mode", static_cast<int>(m)));
}

wm_status prefix_rules(const char* const* rules, size_t n, std::vector<LoraPrefixRule>& out) {
  std::vector<std::string> texts;
  if (wm_status s = strings(rules, n, "lora_prefix_rules", texts); s != WM_OK) return s;
  for (const std::string& t : texts) {
    auto rule = parse_lora_prefix_rule(t);
    if (!rule) return fail(rule.error());
    out.push_back(std::move(rule.value()));
  }
  return WM_OK;
}

}  // namespace

wm_status to_options(const wm_options* caller, Options& out) {
  wm_options o = wm_options_default();
  if (caller)
    if (wm_status s = read_struct(caller, o, "wm_options"); s != WM_OK) return s;
  out.variant = text(o.variant);
  out.metadata_arrays = o.metadata_arrays != 0;
  if (wm_status s = strings(o.components, o.n_components, "components", out.components); s != WM_OK) return s;
  out.use_mmap = o.use_mmap != 0;
  out.device_rules = text(o.device_rules);
  out.type_rules = text(o.type_rules);
  out.offload_to_cpu = o.offload_to_cpu != 0;
  if (o.n_devices > 0 && !o.devices)
    return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.devices is NULL but n_devices is {}", o.n_devices));
  for (size_t i = 0; i < o.n_devices; ++i) {
    auto device = make_c_device(o.devices[i], i);
    if (!device) return fail(device.error());
    out.devices.push_back(std::move(device.value()));
  }
  out.threads = o.threads;
  out.staging_bytes = o.staging_bytes;
  out.hints = text(o.hints);
  switch (o.prefetch) {
    case WM_PREFETCH_BACKGROUND: out.prefetch = PrefetchMode::kBackground; break;
    case WM_PREFETCH_WAIT: out.prefetch = PrefetchMode::kWait; break;
    case WM_PREFETCH_NONE: out.prefetch = PrefetchMode::kNone; break;
    default:
      return fail(WM_ERR_INVALID_ARGUMENT,
                  fmt::format("wm_options.prefetch {} is not a wm_prefetch", static_cast<int>(o.prefetch)));
  }
  out.prefetch_workers = o.prefetch_workers;
  switch (o.io) {
    case WM_IO_READ: out.io = IoMode::kRead; break;
    case WM_IO_DIRECT: out.io = IoMode::kDirect; break;
    case WM_IO_URING: out.io = IoMode::kUring; break;
    default:
      return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.io {} is not a wm_io_mode", static_cast<int>(o.io)));
  }
  out.cache_window_bytes = o.cache_window_bytes;
  out.max_memory_bytes = o.max_memory_bytes;
  out.lock_files = o.lock_files != 0;
  out.mlock = o.mlock != 0;
  if (o.n_loras > 0 && !o.loras)
    return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.loras is NULL but n_loras is {}", o.n_loras));
  for (size_t i = 0; i < o.n_loras; ++i) {
    if (!o.loras[i].path) return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.loras[{}].path is NULL", i));
    out.loras.push_back(LoraSpec{o.loras[i].path, o.loras[i].strength});
  }
  if (wm_status s = lora_mode(o.lora_mode, out.lora.mode); s != WM_OK) return s;
  if (wm_status s = prefix_rules(o.lora_prefix_rules, o.n_lora_prefix_rules, out.lora.prefixes); s != WM_OK) return s;
  if (o.log) {
    wm_log_fn fn = o.log;
    void* user = o.log_user_data;
    out.log = [fn, user](LogLevel level, std::string_view message) {
      const std::string z(message);  // NUL-terminated for C
      fn(user, static_cast<wm_log_level>(level), z.c_str());
    };
    out.lora.log = Logger(out.log);
  }
  out.shard.rank = o.shard_rank;
  out.shard.world = o.shard_world;
  out.shard.rules = text(o.shard_rules);
  switch (o.shard_mode) {
    case WM_SHARD_AUTO: out.shard.mode = ShardMode::kAuto; break;
    case WM_SHARD_SHARED: out.shard.mode = ShardMode::kShared; break;
    case WM_SHARD_EXCHANGE: out.shard.mode = ShardMode::kExchange; break;
    default:
      return fail(WM_ERR_INVALID_ARGUMENT, fmt::format("wm_options.shard_mode {} is not a wm_shard_mode",
                                                       static_cast<int>(o.shard_mode)));
  }
  out.shard.staging_dir = text(o.shard_staging_dir);
  out.shard.exchange_round_bytes = o.shard_exchange_round_bytes;
  if (o.shard_collective) {
    auto c = make_c_collective(o.shard_collective, o.shard_rank, o.shard_world);
    if (!c) return fail(c.error());
    out.shard.collective = std::move(c.value());
  }
  if (o.progress) {
    wm_progress_fn fn = o.progress;
    void* user = o.progress_user_data;
    out.progress = [fn, user](uint64_t done, uint64_t total) { fn(user, done, total); };
  }
  return WM_OK;
}

wm_status to_lora_options(const wm_lora_options* caller, LoraOptions& out) {
  wm_lora_options o = wm_lora_options_default();
  if (caller)
    if (wm_status s = read_struct(caller, o, "wm_lora_options"); s != WM_OK) return s;
  if (wm_status s = lora_mode(o.mode, out.mode); s != WM_OK) return s;
  return prefix_rules(o.prefix_rules, o.n_prefix_rules, out.prefixes);
}

}  // namespace wm::capi

extern "C" {

wm_options wm_options_default(void) {
  const wm::Options d;
  wm_options o{};
  o.struct_size = sizeof(wm_options);
  o.metadata_arrays = d.metadata_arrays;
  o.use_mmap = d.use_mmap;
  o.offload_to_cpu = d.offload_to_cpu;
  o.threads = d.threads;
  o.staging_bytes = d.staging_bytes;
  o.prefetch = static_cast<wm_prefetch>(d.prefetch);
  o.prefetch_workers = d.prefetch_workers;
  o.io = static_cast<wm_io_mode>(d.io);
  o.cache_window_bytes = d.cache_window_bytes;
  o.max_memory_bytes = d.max_memory_bytes;
  o.lock_files = d.lock_files;
  o.mlock = d.mlock;
  o.lora_mode = static_cast<wm_lora_mode>(d.lora.mode);
  o.shard_rank = d.shard.rank;
  o.shard_world = d.shard.world;
  o.shard_mode = static_cast<wm_shard_mode>(d.shard.mode);
  o.shard_exchange_round_bytes = d.shard.exchange_round_bytes;
  return o;
}

wm_lora_options wm_lora_options_default(void) {
  wm_lora_options o{};
  o.struct_size = sizeof(wm_lora_options);
  o.mode = static_cast<wm_lora_mode>(wm::LoraOptions{}.mode);
  return o;
}

}  // extern "C"

// wm_options_default casts these enums: their orders must match.
static_assert(WM_PREFETCH_BACKGROUND == static_cast<int>(wm::PrefetchMode::kBackground) &&
              WM_PREFETCH_WAIT == static_cast<int>(wm::PrefetchMode::kWait) &&
              WM_PREFETCH_NONE == static_cast<int>(wm::PrefetchMode::kNone));
static_assert(WM_IO_READ == static_cast<int>(wm::IoMode::kRead) && WM_IO_DIRECT == static_cast<int>(wm::IoMode::kDirect) &&
              WM_IO_URING == static_cast<int>(wm::IoMode::kUring));
static_assert(WM_LORA_AUTO == static_cast<int>(wm::LoraApplyMode::kAuto) &&
              WM_LORA_IMMEDIATELY == static_cast<int>(wm::LoraApplyMode::kImmediately) &&
              WM_LORA_AT_RUNTIME == static_cast<int>(wm::LoraApplyMode::kAtRuntime));
static_assert(WM_LOG_DEBUG == static_cast<int>(wm::LogLevel::kDebug) &&
              WM_LOG_INFO == static_cast<int>(wm::LogLevel::kInfo) &&
              WM_LOG_WARN == static_cast<int>(wm::LogLevel::kWarn) &&
              WM_LOG_ERROR == static_cast<int>(wm::LogLevel::kError));
