#include "load/memory_pin.h"

#include <cerrno>
#include <fmt/format.h>
#include <sys/mman.h>


namespace wm {

PinnedMemory pin_memory(const std::vector<std::unique_ptr<MappedFile>>& mappings, const std::vector<Tensor>& tensors,
                        const TensorTable& table, const Logger& log) {
  PinnedMemory out;
  auto refused = [&](const Error& e) {
    log.warn(fmt::format("--mlock: {}; that memory stays unpinned", e.to_string()));
    if (out.first_refusal.empty()) out.first_refusal = e.to_string();
  };
  for (const auto& m : mappings) {
    if (!m) continue;
    if (Status s = m->lock_in_memory(); !s) refused(s.error());
    else out.bytes += m->size();
  }
  for (const Tensor& t : tensors) {
    if (t.placement == Placement::kMap || t.on_device || t.nbytes == 0) continue;
    if (::mlock(t.host_data, t.nbytes) != 0) {
      refused(Error{table.files()[t.file].path, t.name, {}, "mlock of the copy failed: " + mlock_error_text(errno)});
      break;  // the rest would be refused alike: one warning
    }
    out.copies.emplace_back(t.host_data, t.nbytes);
    out.bytes += t.nbytes;
  }
  return out;
}

}  // namespace wm
