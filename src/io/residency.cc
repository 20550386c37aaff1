#include "io/residency.h"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace wm {

Result<Residency> page_cache_residency(const File& file) {
  Residency r;
  r.file_bytes = file.size();
  if (file.size() == 0) return r;
  void* p = ::mmap(nullptr, file.size(), PROT_READ, MAP_SHARED, file.fd(), 0);
  if (p == MAP_FAILED) return Error{file.path(), {}, {}, fmt::format("mmap for mincore failed: {}", std::strerror(errno))};
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((file.size() + page - 1) / page);
  int rc = ::mincore(p, file.size(), vec.data());
  int err = errno;
  ::munmap(p, file.size());
  if (rc != 0) return Error{file.path(), {}, {}, fmt::format("mincore failed: {}", std::strerror(err))};
  for (size_t k = 0; k < vec.size(); ++k)
    if (vec[k] & 1) r.resident_bytes += (k + 1 == vec.size()) ? file.size() - k * page : page;
  return r;
}

}  // namespace wm
