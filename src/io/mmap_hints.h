// Page-cache hints for mapped model files, as a set of tokens a user can
// give by flag, by WEIGHTMAP_MMAP_HINTS or through the API:
//   none       no hints at all (what a warm cache wants)
//   sequential madvise(MADV_SEQUENTIAL) + POSIX_FADV_SEQUENTIAL: larger read-ahead
//   random     madvise(MADV_RANDOM): no read-ahead
//   willneed   madvise(MADV_WILLNEED) on the tensor ranges: asynchronous read-ahead
//   populate   parallel prefetch of the tensor ranges (MADV_POPULATE_READ) in use order
//   dontneed   evict the files from the page cache when the model is released
//   auto       measure residency first: warm -> none, cold or partly cold -> populate
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace wm {

enum class MmapHint : uint32_t {
  kNone = 0,
  kSequential = 1u << 0,
  kRandom = 1u << 1,
  kWillneed = 1u << 2,
  kPopulate = 1u << 3,
  kDontneed = 1u << 4,
  kAuto = 1u << 5,
};

class MmapHints {
 public:
  MmapHints() = default;
  static MmapHints automatic() { return MmapHints(static_cast<uint32_t>(MmapHint::kAuto)); }

  bool has(MmapHint h) const { return (bits_ & static_cast<uint32_t>(h)) != 0; }
  bool empty() const { return bits_ == 0; }
  MmapHints with(MmapHint h) const { return MmapHints(bits_ | static_cast<uint32_t>(h)); }
  MmapHints without(MmapHint h) const { return MmapHints(bits_ & ~static_cast<uint32_t>(h)); }
  bool operator==(const MmapHints&) const = default;

  // "sequential,dontneed"; "none" when empty.
  std::string to_string() const;

 private:
  explicit MmapHints(uint32_t bits) : bits_(bits) {}
  uint32_t bits_ = 0;
};

// Parses a comma-separated token list, case-insensitive, spaces ignored.
// "none" alone means no hints; with other tokens it is an error, as are
// unknown tokens, "sequential" with "random", and "auto" with anything
// but "dontneed" (auto decides the read hints itself). `where` names the
// source ("--hints", "WEIGHTMAP_MMAP_HINTS") in the error.
Result<MmapHints> parse_mmap_hints(std::string_view text, std::string_view where);

// The hints a load uses: the flag's when given, else the environment
// variable's when set, else auto.
Result<MmapHints> resolve_mmap_hints(const std::string* flag_value);

}  // namespace wm
