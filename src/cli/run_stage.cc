#include "cli/run_stage.h"

#include <chrono>
#include <fmt/format.h>

#include "api/model_access.h"
#include "cli/output_units.h"
#include "compute/pass.h"
#include "io/process_memory.h"
#include "io/residency.h"

namespace wm::cli {

Result<StageResult> run_stage(const std::vector<std::string>& model_paths, const std::vector<std::string>& components,
                              std::string name, const LoadArgs& args, const StageOptions& options, const Context& ctx,
                              bool progress) {
  StageResult r;
  r.name = std::move(name);
  auto t0 = Clock::now();
  auto model = open_and_load(model_paths, args, ctx.log, progress, components);
  if (!model) return model.error();
  auto loaded = Clock::now();
  const LoadReport rep = model->report();
  std::vector<std::string> paths;
  for (size_t f = 0; f < model->file_count(); ++f) paths.push_back(model->file_path(f));
  r.file_bytes = rep.file_bytes;
  r.parse_ms = rep.time.parse_ms;
  r.load_ms = ms_between(t0, loaded);
  r.tensors = rep.tensors;
  r.mapped = rep.tensors_mapped;
  r.copied = rep.tensors_copied;
  r.converted = rep.tensors_converted;
  r.hints_applied = rep.hints_applied;
  r.residency_before = rep.residency_before;
  r.io_mode = rep.io_mode;

  PassOptions po;
  po.threads = options.compute_threads;
  po.log = ctx.log;
  // LoRA applied at run time: y += scale * up (down x). A LoRA term is
  // [first dim] x [the rest]; the pass's view (MatrixView::from_shape)
  // agrees for matrices and conv weights, not for 3-D expert tensors with
  // long rows: add_lora_terms checks the sizes, and a term that does not fit
  // is reported instead of silently dropped.
  // The compute pass is a diagnostic over the library's side of the model.
  const LoadedModel& m = ModelAccess::loaded(*model);
  size_t skipped_terms = 0;
  po.extra_term = [&model, &skipped_terms](size_t i, std::span<const float> x, std::span<float> y) {
    const std::vector<LoraTerm>& terms = model->lora_terms(i);
    if (!terms.empty() && !add_lora_terms(terms, x.data(), x.size(), y.data(), y.size())) ++skipped_terms;
  };
  auto pass = compute_pass(m, po);
  if (!pass) return pass.error();
  auto used = Clock::now();
  if (skipped_terms)
    ctx.log.warn(fmt::format("{} tensors' run-time LoRA terms were not added to the compute pass: their layout "
                             "(3-D, e.g. expert tensors) differs from the pass's matrix view",
                             skipped_terms));
  r.pass_ms = ms_between(loaded, used);
  r.ttfr_ms = ms_between(ctx.started, used);
  r.checksum = pass->checksum;
  r.simd = simd_level_name(pass->simd);
  PrefetchStats ps = m.prefetch_stats();
  r.prefetch_ms = ps.seconds * 1e3;
  ProcessMemory mem = read_process_memory();
  r.peak_rss_kib = mem.peak_rss_kib;
  r.anon_kib = mem.anon_kib;
  r.page_cache_after_pass = files_residency(paths).resident_bytes;

  if (Status s = model->release(options.evict); !s)
    ctx.log.warn(fmt::format("evicting after release failed: {}", s.error().to_string()));
  r.evicted = options.evict;
  r.anon_kib_released = read_process_memory().anon_kib;
  r.page_cache_after_release = files_residency(paths).resident_bytes;
  return r;
}

}  // namespace wm::cli
