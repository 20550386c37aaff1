// Sizes as users write them (flags, environment variables): "12G", "512M", "64k", "1.5GiB", or bytes.
// Suffixes are binary (K = 1024), as free(1) and cgroups count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace wm {

Result<uint64_t> parse_size(std::string_view text);

// The other way, for messages: "512 B", "76.6 KiB", "57.6 MiB", "3.00 GiB".
std::string human_bytes(uint64_t n);

}  // namespace wm
