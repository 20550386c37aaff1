#include "api/named_devices.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

namespace wm {
namespace {

// "cuda" -> 0, "cuda:3" -> 3; anything else is not a GPU name.
std::optional<int> cuda_ordinal(std::string_view name) {
  if (name == "cuda") return 0;
  constexpr std::string_view prefix = "cuda:";
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  int n = 0;
  auto [end, ec] = std::from_chars(name.data() + prefix.size(), name.data() + name.size(), n);
  if (ec != std::errc() || end != name.data() + name.size() || n < 0) return std::nullopt;
  return n;
}

}  // namespace

Status add_named_devices(const NameRules& rules, std::vector<std::shared_ptr<Device>>& devices) {
  for (const NameRule& r : rules.rules()) {
    auto ordinal = cuda_ordinal(r.value);
    if (!ordinal) continue;
    const bool have = std::any_of(devices.begin(), devices.end(),
                                  [&](const std::shared_ptr<Device>& d) { return d && d->caps().name == r.value; });
    if (have) continue;
    auto d = make_cuda_device(*ordinal);
    if (!d) {
      Error e = d.error();
      e.message = "device rule '" + r.pattern + "=" + r.value + "': " + e.message;
      return e;
    }
    // "cuda:0" names the same GPU as "cuda" but the rules match names
    // exactly, so the device takes the name the rule used.
    if (d.value()->caps().name != r.value)
      return Error{{}, {}, {}, "device rule '" + r.pattern + "=" + r.value + "': GPU 0 is named 'cuda' (write '" + r.pattern + "=cuda')",
                   ErrorCode::kInvalidArgument};
    devices.push_back(std::move(d.value()));
  }
  return {};
}

}  // namespace wm
