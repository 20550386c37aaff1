#include "io/mmap_limiter.h"

#include <charconv>
#include <cstdlib>
#include <fmt/format.h>
#include <mutex>

#include "common/size_text.h"

namespace wm {
namespace {

std::mutex g_mu;
MmapLimits g_limits;  // guarded by g_mu
MmapUsage g_usage;    // guarded by g_mu

}  // namespace

MmapLimits mmap_limits() {
  std::lock_guard lock(g_mu);
  return g_limits;
}

void set_mmap_limits(const MmapLimits& limits) {
  std::lock_guard lock(g_mu);
  g_limits = limits;
}

MmapUsage mmap_usage() {
  std::lock_guard lock(g_mu);
  return g_usage;
}

Result<MmapLimits> mmap_limits_from_env(MmapLimits base) {
  if (const char* files = std::getenv("WEIGHTMAP_MAX_MAPPED_FILES"); files && *files) {
    std::string_view text(files);
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size())
      return Error{{}, {}, {}, fmt::format("WEIGHTMAP_MAX_MAPPED_FILES: '{}' is not a count of files", text)};
    base.max_files = n;
  }
  if (const char* bytes = std::getenv("WEIGHTMAP_MAX_MAPPED_BYTES"); bytes && *bytes) {
    auto n = parse_size(bytes);
    if (!n) return Error{{}, {}, {}, fmt::format("WEIGHTMAP_MAX_MAPPED_BYTES: {}", n.error().message)};
    base.max_bytes = *n;
  }
  return base;
}

Result<MmapPermit> MmapPermit::acquire(uint64_t bytes) {
  std::lock_guard lock(g_mu);
  const MmapLimits& l = g_limits;
  if (l.max_files != 0 && g_usage.files + 1 > l.max_files)
    return Error{{}, {}, {},
                 fmt::format("the mmap limit of {} files is reached ({} files, {} mapped by this process)", l.max_files,
                             g_usage.files, human_bytes(g_usage.bytes))};
  if (l.max_bytes != 0 && g_usage.bytes + bytes > l.max_bytes)
    return Error{{}, {}, {},
                 fmt::format("mapping {} more would pass the mmap limit of {} ({} in {} files mapped by this process)",
                             human_bytes(bytes), human_bytes(l.max_bytes), human_bytes(g_usage.bytes), g_usage.files)};
  ++g_usage.files;
  g_usage.bytes += bytes;
  return MmapPermit(bytes);
}

MmapPermit& MmapPermit::operator=(MmapPermit&& other) noexcept {
  if (this != &other) {
    give_back();
    bytes_ = other.bytes_;
    held_ = other.held_;
    other.held_ = false;
  }
  return *this;
}

void MmapPermit::give_back() {
  if (!held_) return;
  std::lock_guard lock(g_mu);
  --g_usage.files;
  g_usage.bytes -= bytes_;
  held_ = false;
}

}  // namespace wm
