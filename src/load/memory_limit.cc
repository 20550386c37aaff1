#include "load/memory_limit.h"

#include <fmt/format.h>

#include "io/process_memory.h"

namespace wm {

uint64_t anon_bytes_of(const LoadPlan& plan, uint64_t staging_bytes) {
  uint64_t need = 0;
  bool copies = false;
  for (const TensorPlan& p : plan.tensors) {
    if (p.placement == Placement::kMap) continue;
    need += p.nbytes;  // a host buffer or a (simulated, in-process) device buffer
    copies = true;
  }
  return copies ? need + staging_bytes : need;
}

Status check_memory_limit(const LoadPlan& plan, uint64_t staging_bytes, uint64_t max_bytes,
                          const std::string& first_file) {
  if (max_bytes == 0) return {};
  uint64_t need = anon_bytes_of(plan, staging_bytes);
  uint64_t anon_now = read_process_memory().anon_kib * 1024;
  if (anon_now + need <= max_bytes) return {};
  return Error{first_file, {}, {},
               fmt::format("this load needs about {:.1f} MiB of anonymous memory (copies, device buffers, staging) "
                           "on top of the {:.1f} MiB in use, over the {:.1f} MiB allowed (--max-memory); mapped "
                           "tensors need none: load with mmap, or a smaller --staging-mb",
                           need / 1048576.0, anon_now / 1048576.0, max_bytes / 1048576.0),
               ErrorCode::kOutOfMemory};
}

}  // namespace wm
