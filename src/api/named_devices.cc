#include "api/named_devices.h"

#include <algorithm>

#include "device/device_caps.h"

namespace wm {

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
    // "cuda:0" is GPU 0, whose name is "cuda": rules match names exactly,
    // so such a rule could never match; say how to write it.
    if (d.value()->caps().name != r.value)
      return Error{{}, {}, {},
                   "device rule '" + r.pattern + "=" + r.value + "': GPU 0 is named 'cuda' (write '" + r.pattern +
                       "=cuda')",
                   ErrorCode::kInvalidArgument};
    devices.push_back(std::move(d.value()));
  }
  return {};
}

}  // namespace wm
