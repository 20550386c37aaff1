// --mlock: pins a loaded model in memory, mapped files as their pages are
// read (mlock2 MLOCK_ONFAULT) and host copies at once. A refusal
// (RLIMIT_MEMLOCK) is logged and reported, never fatal: the memory stays
// unpinned.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "format/tensor_table.h"
#include "io/mapped_file.h"
#include "weightmap/tensor.hpp"

namespace wm {

struct PinnedMemory {
  std::vector<std::pair<const std::byte*, uint64_t>> copies;  // host copies pinned: munlock them on release
  uint64_t bytes = 0;         // LoadReport::mlocked_bytes
  std::string first_refusal;  // LoadReport::mlock_error
};

PinnedMemory pin_memory(const std::vector<std::unique_ptr<MappedFile>>& mappings, const std::vector<Tensor>& tensors,
                        const TensorTable& table, const Logger& log);

}  // namespace wm
