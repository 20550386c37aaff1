#include "io/residency.h"

#include <algorithm>
#include <fmt/format.h>

#include "io/mapped_file.h"
#include "io/memory.h"
#include "io/page_size.h"

namespace wm {
namespace {

// One flag per page of the pages covering [addr, addr + len).
Status page_flags(const std::byte* addr, uint64_t len, std::vector<unsigned char>& flags, uint64_t& first_page_addr) {
  uintptr_t first = 0;
  Status s = resident_pages(addr, len, flags, first);
  first_page_addr = first;
  return s;
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
  auto view = MappedView::map(file);
  if (!view) return Error{file.path(), {}, {}, "mapping for the residency query failed: " + view.error().message};
  auto res = exact ? mapped_residency(view->data(), file.size()) : sampled_residency(view->data(), file.size());
  if (!res) return Error{file.path(), {}, {}, res.error().message, res.error().code};
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
