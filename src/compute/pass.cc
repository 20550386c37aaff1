#include "compute/pass.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "compute/matvec.h"
#include "compute/reduce.h"
#include "compute/worker_pool.h"
#include "io/sigbus_guard.h"

namespace wm {
namespace {

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class Pass {
 public:
  Pass(const LoadedModel& model, const PassOptions& options, SimdLevel level)
      : model_(model), options_(options), level_(level), pool_(options.threads) {
    XXH3_64bits_reset(&checksum_);
  }

  Status run(size_t index, PassResult& result) {
    const Tensor& t = model_.tensors()[index];
    if (Status ready = model_.wait_ready(index); !ready) return ready;
    if (!t.on_device && t.host_data == nullptr && t.nbytes > 0) return fail(t, "has no bytes in host memory");
    // An empty tensor is reduced (to the empty sum): its dimensions, which
    // may be huge ([0, 2^40]), must never size x or y.
    bool matrix = t.shape.size() >= 2 && matvec_supports(t.dtype) && t.nbytes > 0;
    if (matrix) {
      // The kernels read rows x row_bytes: never trust a shape that needs more than the tensor holds.
      auto need = tensor_nbytes(t.dtype, t.shape);
      if (!need.nbytes || *need.nbytes != t.nbytes)
        return fail(t, fmt::format("holds {} bytes, but {} {} needs {}", t.nbytes, dtype_name(t.dtype),
                                   fmt::join(t.shape, "x"), need.nbytes ? fmt::to_string(*need.nbytes) : need.reason));

      if (Status s = matrix_product(index, t); !s) return s;
      ++result.tensors_matvec;
    } else {
      uint64_t v = 0;
      if (Status s = reduction(index, t, v); !s) return s;
      XXH3_64bits_update(&checksum_, &v, sizeof v);
    }
    ++result.tensors;
    result.bytes += t.nbytes;
    return {};
  }

  uint64_t checksum() const { return XXH3_64bits_digest(&checksum_); }

 private:
  Error fail(const Tensor& t, const std::string& what) const {
    const auto& files = model_.table().files();
    return Error{t.file < files.size() ? files[t.file].path : std::string(), t.name, t.file_offset,
                 fmt::format("compute pass: tensor {}", what)};
  }

  const std::vector<float>& input(uint64_t cols) {
    auto it = inputs_.find(cols);
    if (it == inputs_.end()) it = inputs_.emplace(cols, seeded_input(options_.seed, cols)).first;
    return it->second;
  }

  Status matrix_product(size_t index, const Tensor& t) {
    MatrixView w = MatrixView::from_shape(t.dtype, t.host_data, t.shape);
    const std::vector<float>& x = input(w.cols);
    y_.assign(w.rows, 0.0f);
    if (t.placement == Placement::kMap) {  // a file truncated under the mapping faults here
      if (const std::byte* fault = matvec_guarded(level_, w, x.data(), y_.data(), &pool_))
        return model_.mapped_fault(index, fault, "compute pass");
    } else if (t.host_data) {
      matvec(level_, w, x.data(), y_.data(), &pool_);
    } else {
      // Whole rows per download, so every y[r] is still one row's sum.
      uint64_t row_bytes = w.row_bytes();
      uint64_t rows_per_chunk = std::max<uint64_t>(1, options_.device_chunk_bytes / std::max<uint64_t>(row_bytes, 1));
      for (uint64_t r = 0; r < w.rows; r += rows_per_chunk) {
        uint64_t n = std::min(rows_per_chunk, w.rows - r);
        staging_.resize(n * row_bytes);
        if (Status s = model_.read_bytes(index, r * row_bytes, staging_.data(), staging_.size()); !s) return s;
        MatrixView part{t.dtype, staging_.data(), n, w.cols};
        matvec(level_, part, x.data(), y_.data() + r, &pool_);
      }
    }
    // LoRA at run time: the lead's hook adds scale * up(down x) here.
    if (options_.extra_term) options_.extra_term(index, x, y_);
    XXH3_64bits_update(&checksum_, y_.data(), y_.size() * sizeof(float));
    return {};
  }

  Status reduction(size_t index, const Tensor& t, uint64_t& value) {
    if (t.placement == Placement::kMap) {
      if (const std::byte* fault = guard_sigbus(t.host_data, t.nbytes,
                                                [&] { value = reduce_tensor(t.dtype, t.host_data, t.nbytes); }))
        return model_.mapped_fault(index, fault, "compute pass");
      return {};
    }
    if (t.host_data) {
      value = reduce_tensor(t.dtype, t.host_data, t.nbytes);
      return {};
    }
    TensorReducer reducer(t.dtype);
    uint64_t block = dtype_info(t.dtype).block_bytes;
    uint64_t chunk = std::max(block, options_.device_chunk_bytes / block * block);
    for (uint64_t at = 0; at < t.nbytes; at += chunk) {
      staging_.resize(std::min(chunk, t.nbytes - at));
      if (Status s = model_.read_bytes(index, at, staging_.data(), staging_.size()); !s) return s;
      reducer.add(staging_.data(), staging_.size());
    }
    value = reducer.value();
    return {};
  }

  const LoadedModel& model_;
  const PassOptions& options_;
  SimdLevel level_;
  WorkerPool pool_;
  XXH3_state_t checksum_;
  std::map<uint64_t, std::vector<float>> inputs_;
  std::vector<float> y_;
  std::vector<std::byte> staging_;
};

}  // namespace

std::vector<float> seeded_input(uint64_t seed, uint64_t cols) {
  std::vector<float> x(cols);
  uint64_t base = mix64(seed ^ mix64(cols));
  for (uint64_t k = 0; k < cols; ++k) {
    // 24 random bits scaled to [-1, 1): exact in float.
    auto bits = static_cast<int64_t>(mix64(base + k) >> 40);
    x[k] = static_cast<float>(bits - (1 << 23)) * (1.0f / (1 << 23));
  }
  return x;
}

std::vector<size_t> file_order(const LoadedModel& model) {
  const auto& ts = model.tensors();
  std::vector<size_t> order(ts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (ts[a].file != ts[b].file) return ts[a].file < ts[b].file;
    if (ts[a].file_offset != ts[b].file_offset) return ts[a].file_offset < ts[b].file_offset;
    return a < b;
  });
  return order;
}

Result<PassResult> compute_pass(const LoadedModel& model, const PassOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  if (options.threads == 0) return Error{{}, {}, {}, "compute pass: threads must be at least 1"};
  SimdLevel level;
  if (options.simd) {
    if (!simd_level_supported(*options.simd))
      return Error{{}, {}, {}, fmt::format("compute pass: this CPU does not support SIMD level {} (best here: {})",
                                           simd_level_name(*options.simd), simd_level_name(best_simd_level()))};
    level = *options.simd;
  } else {
    auto env = simd_level_from_env(options.log);
    if (!env) return env.error();
    level = *env;
  }
  // A file changed since the load: its mapped bytes are no longer what was loaded.
  if (Status s = model.check_files(); !s) return s.error();
  PassResult result;
  result.simd = level;
  result.threads = options.threads;
  Pass pass(model, options, level);
  for (size_t index : file_order(model))
    if (Status st = pass.run(index, result); !st) return st.error();
  // Checked again at the end: a file rewritten in place while the pass ran
  // (no fault, just other bytes) would otherwise give a wrong checksum silently.
  if (Status s = model.check_files(); !s) return s.error();
  result.checksum = pass.checksum();
  result.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  options.log.debug(fmt::format("compute pass: {} tensors ({} matvec), {} bytes, {:.1f} ms, simd {}, {} threads",
                                result.tensors, result.tensors_matvec, result.bytes, result.ms,
                                simd_level_name(level), result.threads));
  return result;
}

}  // namespace wm
