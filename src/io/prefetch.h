// Parallel prefetch of mapped file ranges: N workers populate disjoint
// chunks of the mapping concurrently, claiming them in the order the
// caller will use them, so the first tensors are ready first while the
// disk is kept busy with several reads in flight. A lazy mapping faults
// one read-ahead window at a time; this is what makes a cold mapped load
// run at the disk's speed while staying zero-copy.
//
// Pages are brought in with io/memory.h's populate_read
// (madvise(MADV_POPULATE_READ), Linux 5.14+): it maps them too, and reports
// an unreadable page (a file truncated under the mapping) as an error
// instead of SIGBUS. Where the kernel or OS lacks it, workers pread into a
// scratch buffer, which fills the page cache; that fallback is logged.
//
// Thread-safe. The mapping must outlive the Prefetcher (destroy it, or
// call stop(), before unmapping).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "io/file.h"
#include "io/memory.h"

namespace wm {

// One range to prefetch: [addr, addr + len) of a mapping of `file`, which
// holds the file's bytes from `file_offset` on.
struct PrefetchSpan {
  const std::byte* addr = nullptr;
  uint64_t len = 0;
  const File* file = nullptr;
  uint64_t file_offset = 0;
};

struct PrefetchOptions {
  // Measured on a virtio disk (see the README's benchmarks): one stream of
  // 64 MiB populates over a MADV_SEQUENTIAL mapping, where the kernel keeps
  // large asynchronous read-ahead windows in flight, reads 1.3-2.5 GB/s;
  // two or four workers on disjoint chunks split the disk between streams
  // and read 0.8-1.1 GB/s. So the defaults are one worker and large chunks.
  unsigned workers = 1;
  uint64_t chunk_bytes = 64ull << 20;  // unit of work (one madvise or pread)
  // Mappings to mark MADV_SEQUENTIAL while the prefetch runs (then back to
  // MADV_NORMAL, so the pages are aged normally afterwards).
  std::vector<std::pair<const std::byte*, uint64_t>> sequential_regions;
  bool force_pread = false;            // tests: exercise the fallback
  Logger log;
};

struct PrefetchStats {
  uint64_t bytes = 0;         // bytes of the chunks (spans merged, page-rounded)
  uint64_t chunks = 0;
  unsigned workers = 0;
  double seconds = 0;         // start to last chunk done (0 while running)
  bool done = false;
  std::string method;         // "madvise(MADV_POPULATE_READ)" or "pread"
};

class Prefetcher {
 public:
  // Starts the workers at once. `spans` are in use order; wait() takes an
  // index into them. Adjacent spans of one file are merged into chunks.
  Prefetcher(std::vector<PrefetchSpan> spans, PrefetchOptions options);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // Blocks until span `index` is in the page cache; the error of a chunk
  // that could not be read (naming file and offset) otherwise.
  Status wait(size_t index);
  // Blocks until every chunk is done; the first error, if any.
  Status wait_all();
  // Stops claiming chunks and joins the workers (chunks under way finish).
  void stop();
  PrefetchStats stats() const;

 private:
  struct Chunk {
    const std::byte* addr;
    uint64_t len;
    const File* file;
    uint64_t file_offset;
  };
  enum : uint8_t { kPending = 0, kDone = 1, kFailed = 2 };

  void work();
  Status populate(const Chunk& c, std::vector<std::byte>& scratch);
  Status read_in(const Chunk& c, std::vector<std::byte>& scratch);
  Status wait_chunks(size_t first, size_t last);
  void advise_regions(AccessAdvice advice);

  PrefetchOptions options_;
  std::vector<Chunk> chunks_;
  std::vector<std::pair<size_t, size_t>> span_chunks_;  // per span: first and last chunk
  std::unique_ptr<std::atomic<uint8_t>[]> state_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> finished_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> use_pread_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<Error>> chunk_error_;  // guarded by mu_
  std::chrono::steady_clock::time_point start_;
  double seconds_ = 0;  // guarded by mu_
  uint64_t bytes_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace wm
