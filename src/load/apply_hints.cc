#include "load/apply_hints.h"

#include <algorithm>
#include <fmt/format.h>

#include "io/memory.h"
#include "io/page_cache.h"
#include "io/platform.h"
#include "io/residency.h"

namespace wm {
namespace {

// At or above this sampled residency a file counts as warm: prefetching the
// few missing pages is not worth a warm load's time.
constexpr double kWarmFraction = 0.98;
// Below this, every mapped tensor is queued without looking page by page.
constexpr double kColdFraction = 0.02;
// mincore windows sampled per file: ~4 us each, so a warm load pays ~0.25 ms.
constexpr unsigned kSamples = 64;

// The bytes of a mapped file that hold tensors: its data section.
std::pair<const std::byte*, uint64_t> data_region(const FileInfo& info, const MappedFile& m) {
  uint64_t start = std::min<uint64_t>(info.data_offset, m.size());
  return {m.data() + start, m.size() - start};
}

void append(std::string& out, const std::string& what) {
  if (!out.empty()) out += ", ";
  out += what;
}

Status advise_all(const HintInputs& in, AccessAdvice advice) {
  for (size_t f = 0; f < in.mappings->size(); ++f) {
    const auto& m = (*in.mappings)[f];
    if (!m) continue;
    if (Status s = advise_memory(m->data(), m->size(), advice); !s)
      return Error{m->file().path(), {}, {}, s.error().message};
  }
  return {};
}

// Whether `c` is here; if not, logs that hint `hint` is skipped and why.
bool have(Capability c, const char* hint, const Logger& log) {
  if (supports(c)) return true;
  log.info(fmt::format("hint '{}' skipped: {}", hint, unsupported_reason(c)));
  return false;
}

}  // namespace

Result<HintOutcome> apply_hints(HintInputs in) {
  HintOutcome out;
  const TensorTable& table = *in.table;
  out.span_of_tensor.assign(table.tensors().size(), SIZE_MAX);
  out.evict_on_release = in.hints.has(MmapHint::kDontneed);
  bool any_mapped = std::any_of(in.mappings->begin(), in.mappings->end(), [](const auto& m) { return m != nullptr; });

  // Descriptor hints help the copy path's reads too.
  if (in.hints.has(MmapHint::kSequential)) {
    for (const auto& f : *in.files)
      if (Status s = advise_sequential(*f); !s) {
        if (s.error().code != ErrorCode::kUnsupported) return s.error();
        in.log.info(fmt::format("hint 'sequential': no descriptor read-ahead advice ({}); mapping advice only",
                                s.error().message));
        break;
      }
    if (have(Capability::kAccessHints, "sequential", in.log)) {
      if (Status s = advise_all(in, AccessAdvice::kSequential); !s) return s.error();
      append(out.applied, "sequential");
    }
  }
  if (in.hints.has(MmapHint::kRandom) && have(Capability::kAccessHints, "random", in.log)) {
    if (Status s = advise_all(in, AccessAdvice::kRandom); !s) return s.error();
    append(out.applied, "random");
  }
  if (in.hints.has(MmapHint::kWillneed) && any_mapped && have(Capability::kPrefetch, "willneed", in.log)) {
    for (size_t f = 0; f < in.mappings->size(); ++f) {
      const auto& m = (*in.mappings)[f];
      if (!m) continue;
      auto [addr, len] = data_region(table.files()[f], *m);
      if (Status s = advise_memory(addr, len, AccessAdvice::kWillNeed); !s)
        return Error{m->file().path(), {}, {}, s.error().message};
    }
    append(out.applied, "willneed");
  }

  // Which mapped tensors to prefetch: all of them (populate), or those not
  // yet cached (auto, when not warm), or none.
  std::vector<size_t> to_prefetch;
  if (any_mapped && in.hints.has(MmapHint::kAuto) && !supports(Capability::kResidencyQuery)) {
    // Without a residency query auto cannot tell warm from cold: it
    // prefetches everything, which costs a warm load little.
    in.log.info(fmt::format("hint 'auto': cannot measure residency ({}); populating every mapped tensor",
                            unsupported_reason(Capability::kResidencyQuery)));
    to_prefetch = in.mapped_tensors;
    append(out.applied, "populate (auto: residency unknown)");
  } else if (any_mapped && in.hints.has(MmapHint::kAuto)) {
    Residency sampled;
    for (size_t f = 0; f < in.mappings->size(); ++f) {
      const auto& m = (*in.mappings)[f];
      if (!m) continue;
      auto [addr, len] = data_region(table.files()[f], *m);
      auto r = sampled_residency(addr, len, kSamples);
      if (!r) return Error{m->file().path(), {}, {}, r.error().message};
      sampled.resident_bytes += r->resident_bytes;
      sampled.file_bytes += r->file_bytes;
    }
    out.residency_before = sampled.fraction();
    if (out.residency_before >= kWarmFraction) {
      append(out.applied, fmt::format("none (auto: warm, {:.1f}% resident)", 100 * out.residency_before));
    } else {
      // Partly cold: exact per-tensor residency (a walk of every page), so a
      // tensor already cached is not queued. Fully cold: everything is.
      for (size_t i : in.mapped_tensors) {
        if (out.residency_before < kColdFraction) {
          to_prefetch.push_back(i);
          continue;
        }
        const TensorInfo& t = table.tensors()[i];
        const MappedFile& m = *(*in.mappings)[t.file];
        auto missing = missing_ranges(m.data() + t.offset, t.nbytes);
        if (!missing) return Error{m.file().path(), t.name, t.offset, missing.error().message};
        if (!missing->empty()) to_prefetch.push_back(i);
      }
      append(out.applied, fmt::format("populate (auto: cold, {:.1f}% resident)", 100 * out.residency_before));
    }
  } else if (any_mapped && in.hints.has(MmapHint::kPopulate)) {
    to_prefetch = in.mapped_tensors;
    append(out.applied, "populate");
  }
  if (!to_prefetch.empty() && in.prefetch == PrefetchMode::kNone) {
    in.log.info(fmt::format("prefetch of {} tensors skipped: --prefetch none (pages come in on first touch)",
                            to_prefetch.size()));
    append(out.applied, "prefetch off");
    to_prefetch.clear();
  }
  if (!to_prefetch.empty()) {
    std::vector<PrefetchSpan> spans;
    for (size_t i : to_prefetch) {
      const TensorInfo& t = table.tensors()[i];
      const MappedFile& m = *(*in.mappings)[t.file];
      out.span_of_tensor[i] = spans.size();
      spans.push_back({m.data() + t.offset, t.nbytes, &m.file(), t.offset});
    }
    PrefetchOptions po;
    po.workers = in.prefetch_workers;
    po.log = in.log;
    // Large read-ahead while prefetching, unless the user asked for other advice.
    if (!in.hints.has(MmapHint::kRandom) && !in.hints.has(MmapHint::kSequential))
      for (const auto& m : *in.mappings)
        if (m) po.sequential_regions.emplace_back(m->data(), m->size());
    out.prefetcher = std::make_unique<Prefetcher>(std::move(spans), po);
    if (in.prefetch == PrefetchMode::kWait)
      if (Status s = out.prefetcher->wait_all(); !s) return s.error();
  }
  if (out.evict_on_release && !supports(Capability::kPageCacheEviction)) {
    in.log.info(fmt::format("hint 'dontneed' skipped: {}; the files stay cached after release",
                            unsupported_reason(Capability::kPageCacheEviction)));
    out.evict_on_release = false;
  }
  if (out.evict_on_release) append(out.applied, "dontneed (evict on release)");
  if (out.applied.empty()) out.applied = "none";
  return out;
}

}  // namespace wm
