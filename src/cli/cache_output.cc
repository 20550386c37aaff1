#include "cli/cache_output.h"

#include <fmt/format.h>

#include "cli/output_units.h"
#include "common/json_writer.h"

namespace wm::cli {
namespace {

double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 100.0; }

}  // namespace

std::string cache_text(const std::vector<CachedFile>& files, CacheAction action) {
  std::string out;
  uint64_t size = 0, resident = 0;
  for (const auto& r : files) {
    out += fmt::format("{:6.1f}%  {:10.1f} of {:10.1f} MiB  {}", pct(r.resident_bytes, r.bytes), mib(r.resident_bytes),
                       mib(r.bytes), r.path);
    if (action == CacheAction::kWarm && r.seconds > 0)
      out += fmt::format("  (read in {:.2f} s, {:.2f} GB/s)", r.seconds, static_cast<double>(r.bytes) / r.seconds / 1e9);
    out += "\n";
    for (const auto& t : r.tensors)
      out += fmt::format("  {:6.1f}%  {:>12}  {:>12}  {}\n", pct(t.resident_bytes, t.nbytes), t.offset, t.nbytes, t.tensor);
    size += r.bytes;
    resident += r.resident_bytes;
  }
  if (files.size() > 1)
    out += fmt::format("{:6.1f}%  {:10.1f} of {:10.1f} MiB  total\n", pct(resident, size), mib(resident), mib(size));
  return out;
}

std::string cache_json(const std::vector<CachedFile>& files, CacheAction action, bool per_tensor) {
  JsonWriter j;
  j.begin_object();
  j.key("action").value(cache_action_name(action));
  uint64_t size = 0, resident = 0;
  j.key("files").begin_array();
  for (const auto& r : files) {
    j.begin_object();
    j.key("path").value(r.path);
    j.key("bytes").value(r.bytes);
    j.key("resident_bytes").value(r.resident_bytes);
    j.key("fraction").value(r.bytes ? static_cast<double>(r.resident_bytes) / static_cast<double>(r.bytes) : 1.0);
    if (action == CacheAction::kWarm) j.key("seconds").value(r.seconds);
    if (per_tensor) {
      j.key("tensors").begin_array();
      for (const auto& t : r.tensors) {
        j.begin_object();
        j.key("name").value(t.tensor);
        j.key("offset").value(t.offset);
        j.key("bytes").value(t.nbytes);
        j.key("resident_bytes").value(t.resident_bytes);
        j.end_object();
      }
      j.end_array();
    }
    j.end_object();
    size += r.bytes;
    resident += r.resident_bytes;
  }
  j.end_array();
  j.key("bytes").value(size);
  j.key("resident_bytes").value(resident);
  j.end_object();
  return j.str() + "\n";
}

}  // namespace wm::cli
