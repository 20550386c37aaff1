#include "format/tensor_data.h"

#include <cstring>
#include <memory>

namespace wm {

TensorData TensorData::bytes(std::vector<std::byte> b) {
  auto held = std::make_shared<std::vector<std::byte>>(std::move(b));
  return {[held](uint64_t offset, std::span<std::byte> out) {
    std::memcpy(out.data(), held->data() + offset, out.size());
  }};
}

}  // namespace wm
