// wm::Collective among threads of one process: each thread is a rank. For
// testing what ranks do together (agreement, mode choice, the exchange)
// without MPI, under the sanitizers too.
#pragma once

#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "weightmap/collective.hpp"

namespace wm::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(uint32_t world) : world_(world), barrier_(world), slots_(world) {}
  uint32_t world() const { return world_; }
  std::shared_ptr<Collective> member(uint32_t rank);

  // Runs fn(rank) on `world` threads at once and waits for all.
  template <class Fn>
  void run(Fn&& fn) {
    std::vector<std::thread> threads;
    for (uint32_t r = 0; r < world_; ++r) threads.emplace_back([&fn, r] { fn(r); });
    for (auto& t : threads) t.join();
  }

 private:
  friend class ThreadCollective;
  struct Slot {
    const void* send = nullptr;
    const std::vector<uint64_t>* counts = nullptr;
    const std::vector<uint64_t>* offsets = nullptr;
  };
  // A generation barrier on a mutex and a condition variable (not
  // std::barrier: libstdc++ 12's hung now and then under wine).
  class Barrier {
   public:
    explicit Barrier(uint32_t n) : n_(n) {}
    void arrive_and_wait() {
      std::unique_lock<std::mutex> lock(m_);
      const uint64_t gen = generation_;
      if (++arrived_ == n_) {
        arrived_ = 0;
        ++generation_;
        cv_.notify_all();
        return;
      }
      cv_.wait(lock, [&] { return generation_ != gen; });
    }

   private:
    std::mutex m_;
    std::condition_variable cv_;
    const uint32_t n_;
    uint32_t arrived_ = 0;
    uint64_t generation_ = 0;
  };
  uint32_t world_;
  Barrier barrier_;
  std::vector<Slot> slots_;
};

class ThreadCollective final : public Collective {
 public:
  ThreadCollective(ThreadGroup& g, uint32_t rank) : g_(g), rank_(rank) {}
  uint32_t rank() const override { return rank_; }
  uint32_t world() const override { return g_.world_; }
  Status allgather(const void* mine, size_t bytes, void* all) override {
    g_.slots_[rank_] = {mine, nullptr, nullptr};
    g_.barrier_.arrive_and_wait();
    for (uint32_t r = 0; r < g_.world_; ++r)
      if (bytes) std::memcpy(static_cast<std::byte*>(all) + r * bytes, g_.slots_[r].send, bytes);
    g_.barrier_.arrive_and_wait();
    return {};
  }
  Status alltoallv(const void* send, const std::vector<uint64_t>& send_counts,
                   const std::vector<uint64_t>& send_offsets, void* recv, const std::vector<uint64_t>& recv_counts,
                   const std::vector<uint64_t>& recv_offsets) override {
    g_.slots_[rank_] = {send, &send_counts, &send_offsets};
    g_.barrier_.arrive_and_wait();
    Status s;
    for (uint32_t k = 0; k < g_.world_; ++k) {
      const ThreadGroup::Slot& from = g_.slots_[k];
      const uint64_t n = (*from.counts)[rank_];
      if (n != recv_counts[k]) {
        s = Error{{}, {}, {}, "alltoallv: rank " + std::to_string(k) + " sends " + std::to_string(n) +
                                  " bytes, " + std::to_string(recv_counts[k]) + " expected"};
        continue;
      }
      if (n)
        std::memcpy(static_cast<std::byte*>(recv) + recv_offsets[k],
                    static_cast<const std::byte*>(from.send) + (*from.offsets)[rank_], n);
    }
    g_.barrier_.arrive_and_wait();
    return s;
  }

 private:
  ThreadGroup& g_;
  uint32_t rank_;
};

inline std::shared_ptr<Collective> ThreadGroup::member(uint32_t rank) {
  return std::make_shared<ThreadCollective>(*this, rank);
}

}  // namespace wm::test
