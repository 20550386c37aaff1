// A fixed set of threads that split a range of work items with the caller,
// so the compute pass starts its threads once rather than per tensor.
//
// parallel_for must be called from one thread at a time (the owner).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wm {

class WorkerPool {
 public:
  // `threads` >= 1 counts the caller: threads - 1 helper threads are started.
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  unsigned threads() const { return static_cast<unsigned>(helpers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint chunks of [0, n) of `grain` items
  // (the last may be shorter), taken in turn by every thread; returns when
  // all are done. Which thread runs which chunk varies between calls.
  void parallel_for(uint64_t n, uint64_t grain, const std::function<void(uint64_t, uint64_t)>& fn);

 private:
  void run_chunks();
  void helper_loop();

  std::mutex mu_;
  std::condition_variable start_, done_;
  std::vector<std::thread> helpers_;
  uint64_t generation_ = 0;
  unsigned busy_ = 0;  // helpers still working on the current generation
  bool stop_ = false;
  // The current job (valid while busy_ > 0 or the caller runs it).
  const std::function<void(uint64_t, uint64_t)>* fn_ = nullptr;
  uint64_t n_ = 0, grain_ = 1;
  std::atomic<uint64_t> next_{0};
};

}  // namespace wm
