#include "format/tensor_data.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <memory>

#include "io/atomic_file.h"

namespace wm {

TensorData TensorData::bytes(std::vector<std::byte> b) {
  auto held = std::make_shared<std::vector<std::byte>>(std::move(b));
  uint64_t size = held->size();
  return {[held](uint64_t offset, std::span<std::byte> out) {
            if (!out.empty()) std::memcpy(out.data(), held->data() + offset, out.size());
          },
          size};
}

Status write_tensor_data(AtomicFileWriter& out, const TensorData& data, uint64_t nbytes,
                         std::vector<std::byte>& chunk) {
  if (chunk.empty()) chunk.resize(8 << 20);
  for (uint64_t done = 0; done < nbytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), nbytes - done));
    data.fill(done, {chunk.data(), n});
    if (Status s = out.write({chunk.data(), n}); !s) return s;
    done += n;
  }
  return {};
}

Status check_tensor_data_size(const TensorData& data, uint64_t nbytes, const std::string& path,
                              const std::string& tensor) {
  if (data.size == TensorData::kAnySize || data.size == nbytes) return {};
  return Error{path, tensor, {},
               fmt::format("{} bytes given but its dtype and shape need {}", data.size, nbytes)};
}

}  // namespace wm
