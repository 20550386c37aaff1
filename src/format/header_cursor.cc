#include "format/header_cursor.h"

#include <algorithm>
#include <bit>
#include <fmt/format.h>

namespace wm {

static_assert(std::endian::native == std::endian::little,
              "GGUF and safetensors headers are little-endian; big-endian hosts need byte swapping");

namespace {
constexpr uint64_t kWindow = 1 << 20;
}

void HeaderCursor::fail(std::string message, std::string tensor) const {
  fail_at(pos_, std::move(message), std::move(tensor));
}

void HeaderCursor::fail_at(uint64_t at, std::string message, std::string tensor) const {
  throw ParseFailure{Error{src_.name(), std::move(tensor), at, std::move(message)}};
}

void HeaderCursor::fill(uint64_t n, const char* what) {
  if (n > remaining())
    fail(fmt::format("truncated: {} needs {} bytes but the file has {} left", what, n, remaining()));
  if (pos_ >= window_start_ && pos_ + n <= window_start_ + window_.size()) return;
  uint64_t len = std::min<uint64_t>(std::max<uint64_t>(n, kWindow), remaining());
  window_.resize(len);
  window_start_ = pos_;
  if (Status s = src_.read(pos_, window_); !s) throw ParseFailure{s.error()};
}

void HeaderCursor::read_bytes(void* dst, uint64_t n, const char* what) {
  if (n == 0) return;
  if (n > kWindow) {  // large reads go straight to the source
    if (n > remaining())
      fail(fmt::format("truncated: {} needs {} bytes but the file has {} left", what, n, remaining()));
    if (Status s = src_.read(pos_, {static_cast<std::byte*>(dst), n}); !s) throw ParseFailure{s.error()};
  } else {
    fill(n, what);
    std::memcpy(dst, window_.data() + (pos_ - window_start_), n);
  }
  pos_ += n;
}

void HeaderCursor::skip(uint64_t n, const char* what) {
  if (n > remaining())
    fail(fmt::format("truncated: {} needs {} bytes but the file has {} left", what, n, remaining()));
  pos_ += n;
}

std::string HeaderCursor::read_string(const char* what, uint64_t max_len) {
  uint64_t at = pos_;
  auto len = read<uint64_t>(what);
  if (len > max_len) fail_at(at, fmt::format("{} length {} exceeds the limit {}", what, len, max_len));
  if (len > remaining())
    fail_at(at, fmt::format("{} length {} runs past the end of the file ({} bytes left)", what, len, remaining()));
  std::string s(len, '\0');
  read_bytes(s.data(), len, what);
  return s;
}

}  // namespace wm
