#include "format/tensor_data.h"

#include <cstring>
#include <fmt/format.h>
#include <memory>

namespace wm {

TensorData TensorData::bytes(std::vector<std::byte> b) {
  auto held = std::make_shared<std::vector<std::byte>>(std::move(b));
  uint64_t size = held->size();
  return {[held](uint64_t offset, std::span<std::byte> out) {
            if (!out.empty()) std::memcpy(out.data(), held->data() + offset, out.size());
          },
          size};
}

Status check_tensor_data_size(const TensorData& data, uint64_t nbytes, const std::string& path,
                              const std::string& tensor) {
  if (data.size == TensorData::kAnySize || data.size == nbytes) return {};
  return Error{path, tensor, {},
               fmt::format("{} bytes given but its dtype and shape need {}", data.size, nbytes)};
}

}  // namespace wm
