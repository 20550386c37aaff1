// page_cache_support.h on Windows (tests/CMakeLists.txt picks this file
// there): Windows cannot drop one file from the system cache, so no file can
// be made cold; tests that need a cold file skip with that reason
// (Capability::kPageCacheEviction), and cached_fraction reads what
// residency Windows offers (this process's working set, QueryWorkingSetEx).
#include "page_cache_support.h"

#include "io/file.h"
#include "io/platform.h"
#include "io/residency.h"

namespace wm::test {

bool make_cold(const std::string&) { return false; }

double cached_fraction(const std::string& path) {
  auto f = File::open(path);
  if (!f) return -1;
  auto r = page_cache_residency(*f);
  return r ? r->fraction() : -1;
}

bool can_make_cold(const std::string&, std::string* why) {
  if (why) *why = "no file can be made cold here: " + unsupported_reason(Capability::kPageCacheEviction);
  return false;
}

bool residency_sees_page_cache(std::string* why) {
  if (why)
    *why = "residency on Windows is this process's working set (QueryWorkingSetEx): a file read with ReadFile is in "
           "the system cache but in no working set";
  return false;
}

bool advise_no_readahead(const File&) { return false; }  // Windows has no per-file read-ahead advice

}  // namespace wm::test
