#include "load/memory_pin.h"

#include <algorithm>
#include <fmt/format.h>

#include "io/memory.h"
#include "io/platform.h"

namespace wm {

PinnedMemory pin_memory(const std::vector<std::unique_ptr<MappedFile>>& mappings, const std::vector<Tensor>& tensors,
                        const TensorTable& table, const Logger& log) {
  PinnedMemory out;
  auto refused = [&](const Error& e) {
    log.warn(fmt::format("--mlock: {}; that memory stays unpinned", e.to_string()));
    if (out.first_refusal.empty()) out.first_refusal = e.to_string();
  };
  if (!supports(Capability::kMemoryPinning)) {
    refused(Error{{}, {}, {}, unsupported_reason(Capability::kMemoryPinning)});
    return out;
  }
  const bool any_mapped =
      std::any_of(mappings.begin(), mappings.end(), [](const auto& m) { return m != nullptr; });
  if (any_mapped && !supports(Capability::kPinOnFault))
    log.info(fmt::format("--mlock: {}; mapped files are pinned whole, which reads them now",
                         unsupported_reason(Capability::kPinOnFault)));
  for (const auto& m : mappings) {
    if (!m) continue;
    if (Status s = m->lock_in_memory(); !s) refused(s.error());
    else out.bytes += m->size();
  }
  for (const Tensor& t : tensors) {
    if (t.placement == Placement::kMap || t.on_device || t.nbytes == 0) continue;
    if (Status s = pin_pages(t.host_data, t.nbytes); !s) {
      refused(Error{table.files()[t.file].path, t.name, {}, "pinning the copy failed: " + s.error().message});
      break;  // the rest would be refused alike: one warning
    }
    out.copies.emplace_back(t.host_data, t.nbytes);
    out.bytes += t.nbytes;
  }
  return out;
}

}  // namespace wm
