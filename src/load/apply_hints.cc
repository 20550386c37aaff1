#include "load/apply_hints.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>

#include "io/page_cache.h"
#include "io/page_size.h"
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

Status madvise_all(const HintInputs& in, int advice, const char* name) {
  for (size_t f = 0; f < in.mappings->size(); ++f) {
    const auto& m = (*in.mappings)[f];
    if (!m) continue;
    if (::madvise(const_cast<std::byte*>(m->data()), m->size(), advice) != 0)
      return Error{m->file().path(), {}, {}, fmt::format("madvise({}) failed: {}", name, std::strerror(errno))};
  }
  return {};
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
      if (Status s = advise_sequential(*f); !s) return s.error();
    if (Status s = madvise_all(in, MADV_SEQUENTIAL, "MADV_SEQUENTIAL"); !s) return s.error();
    append(out.applied, "sequential");
  }
  if (in.hints.has(MmapHint::kRandom)) {
    if (Status s = madvise_all(in, MADV_RANDOM, "MADV_RANDOM"); !s) return s.error();
    append(out.applied, "random");
  }
  if (in.hints.has(MmapHint::kWillneed) && any_mapped) {
    for (size_t f = 0; f < in.mappings->size(); ++f) {
      const auto& m = (*in.mappings)[f];
      if (!m) continue;
      auto [addr, len] = data_region(table.files()[f], *m);
      uintptr_t page_start = reinterpret_cast<uintptr_t>(addr) / page_size() * page_size();
      if (len && ::madvise(reinterpret_cast<void*>(page_start), len + (reinterpret_cast<uintptr_t>(addr) - page_start),
                           MADV_WILLNEED) != 0)
        return Error{m->file().path(), {}, {}, fmt::format("madvise(MADV_WILLNEED) failed: {}", std::strerror(errno))};
    }
    append(out.applied, "willneed");
  }

  // Which mapped tensors to prefetch: all of them (populate), or those not
  // yet cached (auto, when not warm), or none.
  std::vector<size_t> to_prefetch;
  if (any_mapped && in.hints.has(MmapHint::kAuto)) {
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
  if (out.evict_on_release) append(out.applied, "dontneed (evict on release)");
  if (out.applied.empty()) out.applied = "none";
  return out;
}

}  // namespace wm
