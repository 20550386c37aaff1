// Tensor bytes handed to a writer: either held in memory or produced on
// demand in chunks (so `demo` can write hundreds of MB without holding them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace wm {

struct TensorData {
  static constexpr uint64_t kAnySize = UINT64_MAX;
  // Fills `out` with the tensor's bytes starting at byte `offset` of the tensor.
  std::function<void(uint64_t offset, std::span<std::byte> out)> fill;
  // Bytes available, when known: writers refuse a tensor whose dtype and
  // shape need another length rather than read past the end.
  uint64_t size = kAnySize;

  static TensorData bytes(std::vector<std::byte> b);
};

// Fails (naming file and tensor) when `data` holds a known size other than `nbytes`.
Status check_tensor_data_size(const TensorData& data, uint64_t nbytes, const std::string& path,
                              const std::string& tensor);

}  // namespace wm
