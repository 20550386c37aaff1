// The load report as JSON (Model::report_json, `weightmap load --json`).
#include "api/report_json.h"

#include <algorithm>

#include "common/json_writer.h"
#include "lora/apply.h"

namespace wm {
namespace {

// LoRA: what the applied LoRAs did to tensor `index`, or nullptr.
const LoraTensorReport* lora_of(const LoadedModel& model, size_t index) {
  const LoraReport* l = lora_report(model);
  if (!l) return nullptr;
  auto it = std::lower_bound(l->tensors.begin(), l->tensors.end(), index,
                             [](const LoraTensorReport& t, size_t i) { return t.tensor < i; });
  return it != l->tensors.end() && it->tensor == index ? &*it : nullptr;
}

}  // namespace

std::string load_report_json(const LoadedModel& model, bool per_tensor) {
  const LoadReport& r = model.report();
  JsonWriter j;
  j.begin_object();
  j.key("tensors").value(r.tensors);
  j.key("tensors_mapped").value(r.tensors_mapped);
  j.key("tensors_copied").value(r.tensors_copied);
  j.key("tensors_converted").value(r.tensors_converted);
  j.key("tensors_host_resident").value(r.tensors_host_resident);
  j.key("bytes_total").value(r.bytes_total);
  j.key("bytes_mapped").value(r.bytes_mapped);
  j.key("bytes_copied").value(r.bytes_copied);
  j.key("bytes_converted").value(r.bytes_converted);
  j.key("device_bytes").value(r.device_bytes);
  j.key("host_copy_bytes").value(r.host_copy_bytes);
  j.key("staging").begin_object().key("budget_bytes").value(r.staging_budget_bytes);
  j.key("peak_bytes").value(r.staging_peak_bytes);
  j.key("device_bytes").value(r.staging_device_bytes).end_object();
  j.key("threads").value(static_cast<uint64_t>(r.threads));
  j.key("time_ms").begin_object();
  j.key("total").value(r.time.end_to_end_ms());
  j.key("parse").value(r.time.parse_ms);
  j.key("plan").value(r.time.plan_ms);
  j.key("map").value(r.time.map_ms);
  j.key("read").value(r.time.read_ms);
  j.key("convert").value(r.time.convert_ms);
  j.key("upload").value(r.time.upload_ms);
  j.key("hints").value(r.time.hints_ms);
  j.end_object();
  j.key("rss").begin_object();
  j.key("peak_kib").value(r.memory.peak_rss_kib);
  j.key("anon_kib").value(r.memory.anon_kib);
  j.key("file_kib").value(r.memory.file_kib);
  j.key("anon_kib_before").value(r.memory_before.anon_kib);
  j.end_object();
  j.key("page_cache_bytes").value(r.page_cache_bytes);
  j.key("hints").begin_object();
  j.key("requested").value(r.hints_requested);
  j.key("applied").value(r.hints_applied);
  if (r.residency_before < 0) j.key("residency_before").null();
  else j.key("residency_before").value(r.residency_before);
  j.key("prefetch").value(r.prefetch_mode);
  j.end_object();
  j.key("io").value(r.io_mode);
  j.key("cache_window_bytes").value(r.cache_window_bytes);
  j.key("cache_dropped_bytes").value(r.cache_dropped_bytes);
  j.key("file_bytes").value(r.file_bytes);
  j.key("file_locks").value(r.file_locks);
  j.key("mlocked_bytes").value(r.mlocked_bytes);
  j.key("mlock_error").value(r.mlock_error);
  j.key("shard").begin_object();
  j.key("rank").value(r.shard.rank);
  j.key("world").value(r.shard.world);
  j.key("rules").value(r.shard.rules);
  j.key("source").value(r.shard.source);
  j.key("tensors_rows").value(r.shard.tensors_rows);
  j.key("tensors_cols").value(r.shard.tensors_cols);
  j.key("tensors_replicated").value(r.shard.tensors_replicated);
  j.key("bytes").value(r.shard.bytes);
  j.key("full_bytes").value(r.shard.full_bytes);
  j.key("mode").value(r.shard.mode);
  j.key("mode_reason").value(r.shard.mode_reason);
  j.key("exchange_read_bytes").value(r.shard.exchange_read_bytes);
  j.key("exchange_sent_bytes").value(r.shard.exchange_sent_bytes);
  j.key("exchange_received_bytes").value(r.shard.exchange_received_bytes);
  j.key("staged_bytes").value(r.shard.staged_bytes);
  j.key("exchange_rounds").value(r.shard.exchange_rounds);
  j.key("staging_dir").value(r.shard.staging_dir);
  j.end_object();
  if (per_tensor) {
    j.key("per_tensor").begin_array();
    for (const auto& t : model.tensors()) {
      j.begin_object();
      j.key("name").value(t.name);
      j.key("placement").value(placement_name(t.placement));
      j.key("device").value(model.devices()[t.device].name);
      j.key("dtype").value(dtype_name(t.dtype));
      j.key("nbytes").value(t.nbytes);
      j.key("host_resident").value(t.host_resident);
      j.key("reason").value(t.reason);
      if (t.slice.dim != SliceDim::kNone) {  // Options::shard
        j.key("slice").begin_object().key("dim").value(slice_dim_name(t.slice.dim));
        j.key("start").value(t.slice.start).key("count").value(t.slice.count).key("padded").value(t.slice.padded);
        j.key("full_shape").begin_array();
        for (uint64_t d : t.slice.full_shape) j.value(d);
        j.end_array().end_object();
      }
      if (const LoraTensorReport* l = lora_of(model, static_cast<size_t>(&t - model.tensors().data()))) {  // LoRA
        j.key("lora").begin_object().key("action").value(lora_action_name(l->action)).key("why").value(l->why);
        j.key("terms").value(static_cast<uint64_t>(l->terms)).key("cow_bytes").value(l->cow_bytes);
        j.key("scales").begin_array();
        for (float scale : l->scales) j.value(static_cast<double>(scale));
        j.end_array().end_object();
      }
      j.end_object();
    }
    j.end_array();
  }
  if (const LoraReport* l = lora_report(model)) {  // LoRA
    j.key("lora").begin_object();
    j.key("tensors_patched").value(l->tensors_patched).key("tensors_at_runtime").value(l->tensors_at_runtime);
    j.key("cow_bytes").value(l->cow_bytes);
    j.key("anon_kib_before").value(l->memory_before.anon_kib).key("anon_kib_after").value(l->memory_after.anon_kib);
    j.key("unmatched").begin_array();
    for (const auto& u : l->unmatched)
      j.begin_object().key("file").value(u.file).key("tensor").value(u.tensor).key("reason").value(u.reason).end_object();
    j.end_array().end_object();
  }
  j.end_object();
  return j.str();
}

}  // namespace wm
