#include "cli/platform_output.h"

#include <fmt/format.h>

#include "common/json_writer.h"
#include "io/platform.h"

namespace wm::cli {

std::string platform_text() {
  std::string out = fmt::format("platform: {}\n", platform_description());
  size_t supported = 0;
  for (Capability c : kAllCapabilities) {
    const CapabilityStatus& s = capability_status(c);
    supported += s.supported;
    out += fmt::format("  {:<22} {:<3}  {}\n", capability_name(c), s.supported ? "yes" : "no",
                       s.supported ? s.mechanism : s.reason);
  }
  out += fmt::format("{} of {} capabilities supported\n", supported, std::size(kAllCapabilities));
  return out;
}

std::string platform_json() {
  JsonWriter j;
  j.begin_object();
  j.key("platform").value(platform_description());
  j.key("capabilities").begin_array();
  for (Capability c : kAllCapabilities) {
    const CapabilityStatus& s = capability_status(c);
    j.begin_object();
    j.key("name").value(capability_name(c));
    j.key("description").value(capability_description(c));
    j.key("supported").value(s.supported);
    if (s.supported) j.key("mechanism").value(s.mechanism);
    else j.key("reason").value(s.reason);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str() + "\n";
}

}  // namespace wm::cli
