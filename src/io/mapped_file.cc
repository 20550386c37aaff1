// The platform-neutral part of MappedFile: ownership moves. Mapping and
// unmapping are per platform (io/posix/mapped_file_posix.cc,
// io/windows/mapped_file_windows.cc).
#include "io/mapped_file.h"

namespace wm {

MappedFile::MappedFile(MappedFile&& other) noexcept
    : file_(std::move(other.file_)), data_(other.data_), size_(other.size_), permit_(std::move(other.permit_)) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    file_ = std::move(other.file_);
    data_ = other.data_;
    size_ = other.size_;
    permit_ = std::move(other.permit_);
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

MappedFile::~MappedFile() { unmap(); }

}  // namespace wm
