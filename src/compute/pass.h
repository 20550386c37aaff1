// The compute pass: every weight of a loaded model used once by real
// compute, in file order, so that the time to first result (TTFR) includes
// the I/O a lazy mapping defers to first use. Tensors with two or more
// dimensions and a matvec kernel get y = W x with a seeded x; the others are
// reduced (see reduce.h). The checksum depends only on the tensors' dtypes
// and bytes, never on how they were loaded (mapped, copied, on the sim
// device) nor on the thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "compute/cpu_features.h"
#include "load/loaded_model.h"

namespace wm {

struct PassOptions {
  unsigned threads = 2;
  uint64_t seed = 1;                  // x for a tensor of `cols` columns: seeded_input(seed, cols)
  std::optional<SimdLevel> simd;      // unset: simd_level_from_env()
  Logger log;
  // Tensors on a device that cannot be read in place are downloaded in
  // chunks of about this many bytes (whole rows; at least one row).
  uint64_t device_chunk_bytes = 16ull << 20;
  // LoRA at run time (wired in cli/run_stage.cc): called after y = W x for
  // tensor `tensor` (index into LoadedModel::tensors()), with its x and y in
  // the kernels' view (MatrixView::from_shape: x has cols, y rows), to add
  // y += scale * up(down x) before y enters the checksum. Called from the
  // pass's thread, in file order. A LoRA term is [first dim] x [product of
  // the others]: the view agrees for matrices and conv weights, not for
  // 3-D expert tensors with long rows ([e, rows, cols] is e*rows x cols), so
  // the hook must still check the sizes before adding.
  std::function<void(size_t tensor, std::span<const float> x, std::span<float> y)> extra_term;
};

struct PassResult {
  uint64_t checksum = 0;        // xxh3 over every y (float bits) and reduction, in file order
  uint64_t bytes = 0;           // weight bytes read (as loaded)
  uint64_t tensors = 0;
  uint64_t tensors_matvec = 0;  // the rest were reduced
  double ms = 0;                // wall time of the pass
  SimdLevel simd = SimdLevel::kPortable;
  unsigned threads = 0;
};

// REQUIRES: `model` is not released and not released during the pass.
Result<PassResult> compute_pass(const LoadedModel& model, const PassOptions& options = {});

// The input vector used for a tensor of `cols` columns: values in [-1, 1),
// each exact in float, a function of (seed, cols, index) only.
std::vector<float> seeded_input(uint64_t seed, uint64_t cols);

// Tensor indices of `model` in file order: by (file, offset), ties by index.
std::vector<size_t> file_order(const LoadedModel& model);

}  // namespace wm
