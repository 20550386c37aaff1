#include "cli/load_output.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/output_units.h"
#include "common/size_text.h"

namespace wm::cli {
namespace {

// LoRA: what the applied LoRAs did to tensor `index`, or nullptr.
const LoraTensorReport* lora_of(const Model& model, size_t index) {
  const LoraReport* l = model.lora_report();
  if (!l) return nullptr;
  auto it = std::lower_bound(l->tensors.begin(), l->tensors.end(), index,
                             [](const LoraTensorReport& t, size_t i) { return t.tensor < i; });
  return it != l->tensors.end() && it->tensor == index ? &*it : nullptr;
}
std::string lora_note(const Model& model, size_t index) {
  const LoraTensorReport* t = lora_of(model, index);
  return t ? fmt::format("  [lora x{}: {}, {}; scale {}]", t->terms, lora_action_name(t->action), t->why,
                         fmt::join(t->scales, ", "))
           : "";
}

bool sharded(const Model& model) {
  const ShardReport& r = model.report().shard;
  return r.world > 1 || !r.rules.empty() || !r.source.empty();
}

std::string shard_line(const Model& model) {
  const ShardReport& r = model.report().shard;
  std::string from = r.source.empty() ? "" : fmt::format(" (from {})", r.source);
  return fmt::format("shard: rank {} of {}{}: {} tensors by rows, {} by columns, {} whole; {} of {}\n", r.rank,
                     r.world, from, r.tensors_rows, r.tensors_cols, r.tensors_replicated, human_bytes(r.bytes),
                     human_bytes(r.full_bytes)) +
         (r.mode.empty() ? "" : fmt::format("shard mode: {}: {}\n", r.mode, r.mode_reason)) +
         (r.mode != "exchange"
              ? ""
              : fmt::format("exchange: read {} of the files, sent {}, received {}; staged {} in {} ({} rounds)\n",
                            human_bytes(r.exchange_read_bytes), human_bytes(r.exchange_sent_bytes),
                            human_bytes(r.exchange_received_bytes), human_bytes(r.staged_bytes), r.staging_dir,
                            r.exchange_rounds));
}

}  // namespace

std::string slice_text(const TensorSlice& s) {
  if (s.dim == SliceDim::kNone) return "";
  uint64_t n = s.full_shape.empty() ? 0 : s.dim == SliceDim::kRows ? s.full_shape.front() : s.full_shape.back();
  std::string range = s.count ? fmt::format("{} {}..{} of {}", slice_dim_name(s.dim), s.start, s.start + s.count - 1, n)
                              : fmt::format("no {} of {}", slice_dim_name(s.dim), n);
  if (s.padded) range += fmt::format(", {} zero-padded", s.padded);
  return range;
}

std::string load_text(const Model& model, bool per_tensor) {
  const LoadReport& r = model.report();
  std::string out;
  if (per_tensor)
    for (const auto& t : model.tensors())
      out += fmt::format("  {:<8} {:<5} {:<7} {}{}{}{}\n", placement_name(t.placement), model.devices()[t.device].name,
                         dtype_name(t.dtype), t.name,
                         t.slice.dim == SliceDim::kNone ? "" : fmt::format("  [{}]", slice_text(t.slice)),
                         t.reason.empty() ? "" : fmt::format("  ({})", t.reason),
                         lora_note(model, static_cast<size_t>(&t - model.tensors().data())));
  out += fmt::format(
      "{} tensors, {:.1f} MiB: mapped {} ({:.1f} MiB), copied {} ({:.1f} MiB), converted {} ({:.1f} MiB), "
      "host-resident {}\n",
      r.tensors, mib(r.bytes_total), r.tensors_mapped, mib(r.bytes_mapped), r.tensors_copied, mib(r.bytes_copied),
      r.tensors_converted, mib(r.bytes_converted), r.tensors_host_resident);
  if (sharded(model)) out += shard_line(model);
  out += fmt::format(
      "time: total {:.1f} ms (parse {:.1f}, plan {:.1f}, map {:.1f}, read {:.1f}, convert {:.1f}, upload {:.1f}; "
      "{} threads)\n",
      r.time.end_to_end_ms(), r.time.parse_ms, r.time.plan_ms, r.time.map_ms, r.time.read_ms,
      r.time.convert_ms, r.time.upload_ms, r.threads);
  out += fmt::format(
      "memory: peak RSS {:.1f} MiB, RssAnon {:.1f} MiB (+{:.1f}), RssFile {:.1f} MiB; staging peak {:.1f} of {:.1f} MiB; "
      "device {:.1f} MiB\n",
      r.memory.peak_rss_kib / 1024.0, r.memory.anon_kib / 1024.0,
      r.anon_growth_mib(),
      r.memory.file_kib / 1024.0, mib(r.staging_peak_bytes), mib(r.staging_budget_bytes), mib(r.device_bytes));
  out += fmt::format("page cache: about {:.1f} of {:.1f} MiB of the model files resident\n", mib(r.page_cache_bytes),
                     mib(r.file_bytes));
  std::string before = r.residency_before < 0 ? "" : fmt::format(", {:.1f}% cached before", 100 * r.residency_before);
  out += fmt::format("hints: {} (asked: {}{}); prefetch {}; copy-path reads: {}", r.hints_applied, r.hints_requested,
                     before, r.prefetch_mode, r.io_mode);
  if (r.cache_window_bytes)
    out += fmt::format("; cache window {:.0f} MiB, {:.1f} MiB dropped", mib(r.cache_window_bytes),
                       mib(r.cache_dropped_bytes));
  out += "\n";
  if (!r.file_locks.empty() || r.mlocked_bytes || !r.mlock_error.empty())
    out += fmt::format("held: locks {}; mlocked {:.1f} MiB{}\n", r.file_locks.empty() ? "none" : r.file_locks,
                       mib(r.mlocked_bytes), r.mlock_error.empty() ? "" : " (refused: " + r.mlock_error + ")");
  if (const LoraReport* l = model.lora_report())  // LoRA
    out += fmt::format("lora: {} tensors patched (copy-on-write {:.1f} MiB), {} at run time, {} unmatched; "
                       "RssAnon {:.1f} -> {:.1f} MiB over the LoRA step\n",
                       l->tensors_patched, mib(l->cow_bytes), l->tensors_at_runtime, l->unmatched.size(),
                       l->memory_before.anon_kib / 1024.0, l->memory_after.anon_kib / 1024.0);
  return out;
}

std::string load_json(const Model& model, bool per_tensor) { return model.report_json(per_tensor) + "\n"; }

}  // namespace wm::cli
