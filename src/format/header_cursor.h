// Sequential, bounds-checked reading of a binary header from a ByteSource.
// Every read names the field it is reading, so a failure says what was bad
// and where. Failures throw ParseFailure (caught at the parser's entry point).
// Reads go through a window buffer so a header of many small fields costs a
// few preads, not one per field.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "format/byte_source.h"

namespace wm {

class HeaderCursor {
 public:
  explicit HeaderCursor(const ByteSource& src, uint64_t start = 0) : src_(src), pos_(start) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return src_.size() - pos_; }
  const ByteSource& source() const { return src_; }

  template <class T>
  T read(const char* what) {
    T v;
    read_bytes(&v, sizeof(T), what);
    return v;  // little-endian hosts only (checked at build time in the .cc)
  }

  // A length-prefixed string (u64 length, then bytes). `max_len` bounds the
  // allocation before anything is read.
  std::string read_string(const char* what, uint64_t max_len);

  void skip(uint64_t n, const char* what);
  void read_bytes(void* dst, uint64_t n, const char* what);

  // Throws a ParseFailure at the current position (or `at`).
  [[noreturn]] void fail(std::string message, std::string tensor = {}) const;
  [[noreturn]] void fail_at(uint64_t at, std::string message, std::string tensor = {}) const;

 private:
  void fill(uint64_t n, const char* what);

  const ByteSource& src_;
  uint64_t pos_;
  std::vector<std::byte> window_;  // bytes [window_start_, window_start_ + window_.size())
  uint64_t window_start_ = 0;
};

}  // namespace wm
