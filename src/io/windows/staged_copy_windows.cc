// StagedCopy on Windows: not built yet (the exchange mode of tensor-parallel
// loading runs under MPI on Linux); create() says so.
#include "io/staged_copy.h"

#include <cstdlib>
#include "io/windows/win32.h"

namespace wm {

Result<StagedCopy> StagedCopy::create(const std::string& dir, uint64_t, std::string) {
  return Error{dir, {}, {}, "staged copies (the exchange mode of --shard) are not available on Windows",
               ErrorCode::kUnsupported};
}

StagedCopy::StagedCopy(StagedCopy&& other) noexcept
    : handle_(other.handle_), size_(other.size_), label_(std::move(other.label_)) {
  other.handle_ = {};
}
StagedCopy& StagedCopy::operator=(StagedCopy&& other) noexcept {
  handle_ = other.handle_;
  size_ = other.size_;
  label_ = std::move(other.label_);
  other.handle_ = {};
  return *this;
}
StagedCopy::~StagedCopy() = default;
Status StagedCopy::write(uint64_t, std::span<const std::byte>) {
  return Error{label_, {}, {}, "staged copies are not available on Windows", ErrorCode::kUnsupported};
}
Result<File> StagedCopy::file() const {
  return Error{label_, {}, {}, "staged copies are not available on Windows", ErrorCode::kUnsupported};
}

Status release_staged_range(const File& staged, uint64_t, uint64_t) {
  return Error{staged.path(), {}, {}, "staged copies are not available on Windows", ErrorCode::kUnsupported};
}

std::string default_staging_dir() {
  const char* t = std::getenv("TEMP");
  return t ? t : ".";
}

std::string host_identity() {
  char name[MAX_COMPUTERNAME_LENGTH + 1] = {};
  DWORD n = sizeof name;
  if (GetComputerNameA(name, &n)) return std::string("host ") + name;
  return "host unknown";
}

}  // namespace wm
