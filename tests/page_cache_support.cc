#include "page_cache_support.h"

#include <fcntl.h>
#include <unistd.h>

#include "io/file.h"
#include "io/page_cache.h"
#include "io/residency.h"
#include "test_support.h"

namespace wm::test {

bool make_cold(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  ::fdatasync(fd);
  ::close(fd);
  auto f = File::open(path);
  return f && evict_file(*f).ok();
}

double cached_fraction(const std::string& path) {
  auto f = File::open(path);
  if (!f) return -1;
  auto r = page_cache_residency(*f);
  return r ? r->fraction() : -1;
}

bool can_make_cold(const std::string& dir, std::string* why) {
  std::string probe = dir + "/cold-probe.bin";
  write_file(probe, pattern(1 << 20, 7));
  bool ok = make_cold(probe) && cached_fraction(probe) < 0.05;
  if (!ok && why) *why = "files under " + dir + " stay in the page cache after POSIX_FADV_DONTNEED (tmpfs?)";
  ::unlink(probe.c_str());
  return ok;
}

bool residency_sees_page_cache(std::string*) { return true; }  // mincore on a mapping of the file

bool advise_no_readahead(const File& file) {
  return ::posix_fadvise(static_cast<int>(file.native_handle().value), 0, 0, POSIX_FADV_RANDOM) == 0;
}

}  // namespace wm::test
