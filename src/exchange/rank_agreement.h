// Ranks agreeing before they depend on each other: each says whether it is
// ready, and all learn which failed, so a rank whose file is missing makes
// every rank fail at once naming it, instead of the others waiting on it.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "common/error.h"
#include "weightmap/collective.hpp"

namespace wm {

// Ok when every rank's `mine` is. Otherwise, on a rank that failed, its own
// error unchanged; on the others an error "rank R of W failed: <R's error>"
// for the lowest failing rank R. Every rank must call it at the same point.
Status agree_ranks(Collective& c, const Status& mine);

// Every rank's `mine` (sizes may differ), in rank order.
Result<std::vector<std::vector<std::byte>>> allgather_blobs(Collective& c, std::span<const std::byte> mine);

}  // namespace wm
