// Tensor bytes handed to a writer: either held in memory or produced on
// demand in chunks (so `demo` can write hundreds of MB without holding them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace wm {

struct TensorData {
  // Fills `out` with the tensor's bytes starting at byte `offset` of the tensor.
  std::function<void(uint64_t offset, std::span<std::byte> out)> fill;

  static TensorData bytes(std::vector<std::byte> b);
};

}  // namespace wm
