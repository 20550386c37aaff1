#include "compute/matvec.h"

#include <atomic>
#include <vector>

#include "io/sigbus_guard.h"
#include "compute/kquant_kernels.h"
#include "compute/matvec_kernels.h"
#include "compute/simd_levels.h"
#include "compute/worker_pool.h"

namespace wm {
namespace {

// Below this many weight bytes a matrix is done on the caller's thread:
// waking helpers would cost more than it saves (many tensors are small).
constexpr uint64_t kParallelMinBytes = 256 << 10;
// Rows per chunk handed to a thread: about this many weight bytes.
constexpr uint64_t kChunkBytes = 256 << 10;

}  // namespace

bool matvec_supports(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::F16: case DType::BF16:
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      return true;
    default: return false;
  }
}

namespace {

// The K-quants' rows against x already quantised to Q8_K (kquant_kernels.h).
void kquant_rows(SimdLevel level, const MatrixView& w, const kernels::Q8KBlock* xq, float* y, uint64_t row_begin,
                 uint64_t row_end) {
  kernels::built_level_kernels(level)->kquant_rows(w, xq, y, row_begin, row_end);
}

}  // namespace

void matvec_rows(SimdLevel level, const MatrixView& w, const float* x, float* y, uint64_t row_begin,
                 uint64_t row_end) {
  if (kernels::is_kquant(w.dtype)) {
    kquant_rows(level, w, kernels::quantize_x_q8k(x, w.cols).data(), y, row_begin, row_end);
    return;
  }
  kernels::built_level_kernels(level)->matvec_rows(w, x, y, row_begin, row_end);
}

namespace {

// Runs rows(begin, end) over all rows: on the caller's thread for a small
// matrix, else split across the pool.
template <class Rows>
void split_rows(const MatrixView& w, WorkerPool* pool, Rows&& rows) {
  uint64_t row_bytes = w.row_bytes();
  if (pool == nullptr || pool->threads() == 1 || w.rows * row_bytes < kParallelMinBytes) {
    rows(0, w.rows);
    return;
  }
  uint64_t grain = row_bytes >= kChunkBytes ? 1 : kChunkBytes / row_bytes;
  pool->parallel_for(w.rows, grain, rows);
}

// The rows [begin, end) of y: x quantised once per matrix for the K-quants
// (xq, empty otherwise), shared by all threads.
struct RowsJob {
  SimdLevel level;
  const MatrixView& w;
  const float* x;
  std::vector<kernels::Q8KBlock> xq;
  float* y;

  RowsJob(SimdLevel l, const MatrixView& m, const float* in, float* out)
      : level(l), w(m), x(in), xq(kernels::is_kquant(m.dtype) ? kernels::quantize_x_q8k(in, m.cols)
                                                               : std::vector<kernels::Q8KBlock>()),
        y(out) {}
  void operator()(uint64_t begin, uint64_t end) const {
    if (kernels::is_kquant(w.dtype))
      kquant_rows(level, w, xq.data(), y, begin, end);
    else
      matvec_rows(level, w, x, y, begin, end);
  }
};

}  // namespace

void matvec(SimdLevel level, const MatrixView& w, const float* x, float* y, WorkerPool* pool) {
  const RowsJob job(level, w, x, y);
  split_rows(w, pool, [&](uint64_t begin, uint64_t end) { job(begin, end); });
}

const std::byte* matvec_guarded(SimdLevel level, const MatrixView& w, const float* x, float* y, WorkerPool* pool) {
  std::atomic<const std::byte*> first_fault{nullptr};
  const uint64_t bytes = w.rows * w.row_bytes();
  const RowsJob job(level, w, x, y);
  split_rows(w, pool, [&](uint64_t begin, uint64_t end) {
    if (first_fault.load(std::memory_order_relaxed) != nullptr) return;  // the answer is lost anyway
    // Each thread guards its own rows: a guard catches faults on its own thread only.
    if (const std::byte* fault = guard_sigbus(w.data, bytes, [&] { job(begin, end); })) {
      const std::byte* none = nullptr;
      first_fault.compare_exchange_strong(none, fault);
    }
  });
  return first_fault.load();
}

}  // namespace wm
