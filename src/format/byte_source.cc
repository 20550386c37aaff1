#include "format/byte_source.h"

#include <cstring>

#include "io/file.h"

namespace wm {

Status MemorySource::read(uint64_t offset, std::span<std::byte> dst) const {
  if (offset > bytes_.size() || dst.size() > bytes_.size() - offset)
    return Error{name_, {}, offset, "read past the end"};
  if (!dst.empty()) std::memcpy(dst.data(), bytes_.data() + offset, dst.size());
  return {};
}

uint64_t FileSource::size() const { return file_.size(); }
const std::string& FileSource::name() const { return file_.path(); }
Status FileSource::read(uint64_t offset, std::span<std::byte> dst) const {
  return file_.read_exact(offset, dst);
}

}  // namespace wm
