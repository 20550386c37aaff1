// UringReader where the OS has no io_uring (macOS, the BSDs): create()
// says so, and TensorSource falls back to pread and logs it
// (Capability::kAsyncIo is reported as unsupported).
#include "io/uring_reader.h"

namespace wm {

struct UringReader::Ring {};

Result<UringReader> UringReader::create(unsigned, uint64_t) {
  return Error{{}, {}, {}, "asynchronous reads (io_uring) are Linux-only; not on this OS", ErrorCode::kUnsupported};
}

UringReader::UringReader(std::unique_ptr<Ring> ring, unsigned depth, uint64_t piece)
    : ring_(std::move(ring)), depth_(depth), piece_(piece) {}
UringReader::UringReader(UringReader&&) noexcept = default;
UringReader& UringReader::operator=(UringReader&&) noexcept = default;
UringReader::~UringReader() = default;

Status UringReader::read(NativeHandle, const std::string& path, uint64_t offset, std::span<std::byte>) {
  return Error{path, {}, offset, "asynchronous reads (io_uring) are Linux-only", ErrorCode::kUnsupported};
}

}  // namespace wm
