// Sizes as users write them (flags, environment variables): "12G", "512M", "64k", "1.5GiB", or bytes.
// Suffixes are binary (K = 1024), as free(1) and cgroups count.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/error.h"

namespace wm {

Result<uint64_t> parse_size(std::string_view text);

}  // namespace wm
