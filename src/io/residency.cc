#include "io/residency.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/page_size.h"

namespace wm {
namespace {

// mincore over the pages covering [addr, addr + len): one flag per page.
Status page_flags(const std::byte* addr, uint64_t len, std::vector<unsigned char>& flags, uint64_t& first_page_addr) {
  const uint64_t page = page_size();
  uint64_t start = reinterpret_cast<uintptr_t>(addr) / page * page;
  uint64_t end = (reinterpret_cast<uintptr_t>(addr) + len + page - 1) / page * page;
  flags.assign((end - start) / page, 0);
  first_page_addr = start;
  if (flags.empty()) return {};
  if (::mincore(reinterpret_cast<void*>(start), end - start, flags.data()) != 0)
    return Error{{}, {}, {}, fmt::format("mincore failed: {}", std::strerror(errno))};
  return {};
}

// Bytes of [lo, hi) that fall in page k (which starts at page_addr).
uint64_t overlap(uint64_t page_addr, uint64_t page, uint64_t lo, uint64_t hi) {
  uint64_t a = std::max(page_addr, lo), b = std::min(page_addr + page, hi);
  return b > a ? b - a : 0;
}

}  // namespace

Result<Residency> page_cache_residency(const File& file, bool exact) {
  Residency r;
  r.file_bytes = file.size();
  if (file.size() == 0) return r;
  void* p = ::mmap(nullptr, file.size(), PROT_READ, MAP_SHARED, file.fd(), 0);
  if (p == MAP_FAILED) return Error{file.path(), {}, {}, fmt::format("mmap for mincore failed: {}", std::strerror(errno))};
  auto res = exact ? mapped_residency(static_cast<const std::byte*>(p), file.size())
                   : sampled_residency(static_cast<const std::byte*>(p), file.size());
  ::munmap(p, file.size());
  if (!res) return Error{file.path(), {}, {}, res.error().message};
  if (!exact)  // scale the sampled fraction to the whole file
    res->resident_bytes = static_cast<uint64_t>(res->fraction() * static_cast<double>(file.size()));
  res->file_bytes = file.size();
  return res;
}

Residency files_residency(const std::vector<std::string>& paths) {
  Residency total;
  for (const auto& p : paths) {
    auto f = File::open(p);
    if (!f) continue;
    if (auto r = page_cache_residency(*f)) {
      total.resident_bytes += r->resident_bytes;
      total.file_bytes += r->file_bytes;
    }
  }
  return total;
}

Result<Residency> mapped_residency(const std::byte* addr, uint64_t len) {
  Residency r;
  r.file_bytes = len;
  std::vector<unsigned char> flags;
  uint64_t base = 0;
  if (Status s = page_flags(addr, len, flags, base); !s) return s.error();
  const uint64_t page = page_size();
  const uint64_t lo = reinterpret_cast<uintptr_t>(addr), hi = lo + len;
  for (size_t k = 0; k < flags.size(); ++k)
    if (flags[k] & 1) r.resident_bytes += overlap(base + k * page, page, lo, hi);
  return r;
}

Result<Residency> sampled_residency(const std::byte* addr, uint64_t len, unsigned samples) {
  constexpr uint64_t kWindowPages = 16;
  const uint64_t page = page_size();
  const uint64_t window = kWindowPages * page;
  if (samples == 0 || len <= static_cast<uint64_t>(samples) * window) return mapped_residency(addr, len);
  Residency r;
  const uint64_t stride = len / samples;
  for (unsigned s = 0; s < samples; ++s) {
    auto part = mapped_residency(addr + s * stride, window);
    if (!part) return part;
    r.resident_bytes += part->resident_bytes;
    r.file_bytes += part->file_bytes;
  }
  return r;
}

Result<std::vector<ByteRange>> missing_ranges(const std::byte* addr, uint64_t len) {
  std::vector<unsigned char> flags;
  uint64_t base = 0;
  if (Status s = page_flags(addr, len, flags, base); !s) return s.error();
  const uint64_t page = page_size();
  const uint64_t lo = reinterpret_cast<uintptr_t>(addr), hi = lo + len;
  std::vector<ByteRange> out;
  for (size_t k = 0; k < flags.size(); ++k) {
    if (flags[k] & 1) continue;
    uint64_t a = std::max(base + k * page, lo) - lo;
    uint64_t b = std::min(base + (k + 1) * page, hi) - lo;
    if (!out.empty() && out.back().offset + out.back().len == a) out.back().len += b - a;
    else out.push_back({a, b - a});
  }
  return out;
}

}  // namespace wm
