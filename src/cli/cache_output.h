// How `cache` shows the page cache of model files: text for people, JSON for tools.
#pragma once

#include <string>
#include <vector>

#include "weightmap/page_cache.hpp"

namespace wm::cli {

std::string cache_text(const std::vector<CachedFile>& files, CacheAction action);
std::string cache_json(const std::vector<CachedFile>& files, CacheAction action, bool per_tensor);

}  // namespace wm::cli
