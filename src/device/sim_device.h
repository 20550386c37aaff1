// `sim`: an in-process stand-in for a discrete accelerator, so the
// non-mapped path is exercised on machines without one. It has its own
// memory (buffers the host may not point into), takes no host pointers, and
// receives data through a copy queue served by its own thread, so uploads
// overlap with the loader's next reads as a real DMA engine's would.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace wm {

class SimDevice {
 public:
  SimDevice();
  ~SimDevice();
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;

  using Handle = uint32_t;
  Handle allocate(uint64_t nbytes);
  uint64_t size(Handle h) const;

  // Queues a copy of `src` into buffer `h` at `offset`; `done` runs on the
  // queue's thread once the bytes are in (the caller releases its staging
  // there). REQUIRES: src stays valid until `done` runs; offset + src.size()
  // <= size(h) (the loader computes both from the plan).
  void upload(Handle h, uint64_t offset, std::span<const std::byte> src, std::function<void()> done);
  // Blocks until every queued upload has finished.
  void wait_idle();
  // Reads device memory back (what a kernel would see), for verification.
  // REQUIRES: offset + dst.size() <= size(h).
  void download(Handle h, uint64_t offset, std::span<std::byte> dst) const;

  uint64_t bytes_allocated() const;
  uint64_t bytes_uploaded() const;
  double upload_seconds() const;
  void free_all();

 private:
  struct Job {
    Handle h;
    uint64_t offset;
    std::span<const std::byte> src;
    std::function<void()> done;
  };
  void serve();

  mutable std::mutex mu_;
  std::condition_variable work_, idle_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::vector<std::pair<std::byte*, uint64_t>> buffers_;
  uint64_t allocated_ = 0, uploaded_ = 0;
  double upload_seconds_ = 0;
  std::thread thread_;
};

}  // namespace wm
