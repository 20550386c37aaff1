#include "cli/run_output.h"

#include <fmt/format.h>

#include "cli/output_units.h"
#include "common/json_writer.h"

namespace wm::cli {
namespace {
}  // namespace

std::string run_text(const RunSummary& s) {
  std::string out;
  for (const StageResult& r : s.stages) {
    out += fmt::format("{}: {:.1f} MiB, {} tensors (mapped {}, copied {}, converted {})\n", r.name, mib(r.file_bytes),
                       r.tensors, r.mapped, r.copied, r.converted);
    out += fmt::format("  load {:.1f} ms, compute pass {:.1f} ms ({}), time to first result {:.1f} ms, {:.2f} GB/s\n",
                       r.load_ms, r.pass_ms, r.simd, r.ttfr_ms,
                       r.ttfr_ms > 0 ? static_cast<double>(r.file_bytes) / (r.ttfr_ms * 1e6) : 0.0);
    std::string residency = r.residency_before < 0 ? "not measured" : fmt::format("{:.1f}%", 100 * r.residency_before);
    out += fmt::format("  hints: {} (cached before: {}); copy-path reads: {}{}\n", r.hints_applied, residency,
                       r.io_mode.empty() ? "none" : r.io_mode,
                       r.prefetch_ms > 0 ? fmt::format("; prefetch {:.1f} ms", r.prefetch_ms) : "");
    out += fmt::format("  memory: peak RSS {:.1f} MiB, RssAnon {:.1f} MiB (after release {:.1f} MiB)\n",
                       r.peak_rss_kib / 1024.0, r.anon_kib / 1024.0, r.anon_kib_released / 1024.0);
    out += fmt::format("  page cache: {:.1f} MiB after the pass, {:.1f} MiB after release{}\n",
                       mib(r.page_cache_after_pass), mib(r.page_cache_after_release), r.evicted ? " and evict" : "");
    out += fmt::format("  checksum {}\n", hex(r.checksum));
  }
  if (s.stages.size() > 1)
    out += fmt::format("total: load {:.1f} ms, time to first result {:.1f} ms, peak RSS {:.1f} MiB, checksum {}\n",
                       s.load_ms, s.ttfr_ms, s.peak_rss_kib / 1024.0, hex(s.checksum));
  return out;
}

std::string run_json(const RunSummary& s) {
  JsonWriter j;
  j.begin_object();
  j.key("stages").begin_array();
  for (const StageResult& r : s.stages) {
    j.begin_object();
    j.key("name").value(r.name);
    j.key("file_bytes").value(r.file_bytes);
    j.key("tensors").value(r.tensors);
    j.key("tensors_mapped").value(r.mapped);
    j.key("tensors_copied").value(r.copied);
    j.key("tensors_converted").value(r.converted);
    j.key("parse_ms").value(r.parse_ms);
    j.key("load_ms").value(r.load_ms);
    j.key("pass_ms").value(r.pass_ms);
    j.key("ttfr_ms").value(r.ttfr_ms);
    j.key("checksum").value(hex(r.checksum));
    j.key("simd").value(r.simd);
    j.key("hints_applied").value(r.hints_applied);
    if (r.residency_before < 0) j.key("residency_before").null();
    else j.key("residency_before").value(r.residency_before);
    j.key("io").value(r.io_mode);
    j.key("prefetch_ms").value(r.prefetch_ms);
    j.key("peak_rss_kib").value(r.peak_rss_kib);
    j.key("anon_kib").value(r.anon_kib);
    j.key("anon_kib_after_release").value(r.anon_kib_released);
    j.key("page_cache_bytes_after_pass").value(r.page_cache_after_pass);
    j.key("page_cache_bytes_after_release").value(r.page_cache_after_release);
    j.key("evicted").value(r.evicted);
    j.end_object();
  }
  j.end_array();
  j.key("file_bytes").value(s.file_bytes);
  j.key("load_ms").value(s.load_ms);
  j.key("ttfr_ms").value(s.ttfr_ms);
  j.key("checksum").value(hex(s.checksum));
  j.key("peak_rss_kib").value(s.peak_rss_kib);
  j.end_object();
  return j.str() + "\n";
}

}  // namespace wm::cli
