// A ggml context over a wm::Model's tensors. Nothing is copied: each ggml
// tensor's data is where weightmap put the bytes, inside a ggml buffer that
// says what kind of memory it is (so ggml's scheduler and backends treat it
// right: CPU_Mapped for the mapping, CPU for host copies, the device's own).
#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

#include "ggml_device.h"
#include "weightmap/ggml.hpp"

namespace wm::ggml {
namespace {

// ggml_backend_cpu_buffer_from_ptr wants its base at this alignment (ggml's
// TENSOR_ALIGNMENT); a buffer's base is rounded down to it. The bytes between
// are never touched: a buffer from a pointer only marks a range.
constexpr uintptr_t kBufferAlignment = 32;

Error tensor_error(const Tensor& t, std::string message, ErrorCode code) {
  return Error{{}, t.name, {}, std::move(message), code};
}

ggml_backend_buffer_t host_buffer(const std::byte* lo, const std::byte* hi) {
  const auto base = reinterpret_cast<uintptr_t>(lo) & ~(kBufferAlignment - 1);
  auto* p = reinterpret_cast<void*>(base);
  ggml_backend_buffer_t b = ggml_backend_cpu_buffer_from_ptr(p, static_cast<size_t>(reinterpret_cast<uintptr_t>(hi) - base));
  ggml_backend_buffer_set_usage(b, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
  return b;
}

bool buffer_holds(ggml_backend_buffer_t b, const std::byte* p, uint64_t n) {
  const auto* base = static_cast<const std::byte*>(ggml_backend_buffer_get_base(b));
  return p >= base && p + n <= base + ggml_backend_buffer_get_size(b);
}

}  // namespace

struct Weights::Impl {
  const Model* model = nullptr;
  ggml_context* ctx = nullptr;
  std::vector<ggml_tensor*> tensors;
  std::vector<Backing> backing;
  std::vector<ggml_backend_buffer_t> own;   // per tensor: a buffer only it uses (host copies), else nullptr
  std::map<uint32_t, ggml_backend_buffer_t> mapped;  // file -> the buffer over its mapped tensors
  std::unordered_map<std::string, size_t> by_name;
  uint64_t generation = 0;                  // the Model generation the tensors reflect
  ggml_context* lora_ctx = nullptr;         // the run-time LoRA factors' tensors and data
  std::vector<std::vector<LoraFactors>> lora;

  ~Impl() {
    free_lora();
    for (ggml_backend_buffer_t b : own) {
      if (b != nullptr) ggml_backend_buffer_free(b);
    }
    for (auto& [file, b] : mapped) ggml_backend_buffer_free(b);
    if (ctx != nullptr) ggml_free(ctx);
  }

  void free_lora() {
    if (lora_ctx != nullptr) ggml_free(lora_ctx);
    lora_ctx = nullptr;
    lora.assign(tensors.size(), {});
  }

  // One ggml tensor, unbacked.
  Result<ggml_tensor*> make_tensor(const Tensor& t) {
    auto type = type_of(t.dtype);
    if (!type) return tensor_error(t, type.error().message, ErrorCode::kUnsupported);
    if (t.shape.size() > GGML_MAX_DIMS) {
      return tensor_error(t, std::to_string(t.shape.size()) + " dimensions; ggml has at most " +
                                 std::to_string(GGML_MAX_DIMS),
                          ErrorCode::kUnsupported);
    }
    int64_t ne[GGML_MAX_DIMS] = {1, 1, 1, 1};
    const int n_dims = t.shape.empty() ? 1 : static_cast<int>(t.shape.size());
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] > static_cast<uint64_t>(INT64_MAX / 2)) {
        return tensor_error(t, "dimension " + std::to_string(t.shape[d]) + " is too large for ggml",
                            ErrorCode::kUnsupported);
      }
      ne[t.shape.size() - 1 - d] = static_cast<int64_t>(t.shape[d]);  // ggml: innermost first
    }
    if (ne[0] % ggml_blck_size(*type) != 0) {
      return tensor_error(t, "innermost dimension " + std::to_string(ne[0]) + " is not a whole number of " +
                                 ggml_type_name(*type) + " blocks (" + std::to_string(ggml_blck_size(*type)) + ")",
                          ErrorCode::kUnsupported);
    }
    ggml_tensor* g = ggml_new_tensor(ctx, *type, n_dims, ne);
    if (ggml_nbytes(g) != t.nbytes) {
      return tensor_error(t, "ggml sizes it at " + std::to_string(ggml_nbytes(g)) + " bytes, weightmap at " +
                                 std::to_string(t.nbytes),
                          ErrorCode::kBadFormat);
    }
    ggml_set_name(g, t.name.c_str());  // ggml keeps GGML_MAX_NAME - 1 characters; by_name has the whole name
    return g;
  }

  // The mapped tensors of each file share one buffer over their range.
  void make_mapped_buffers() {
    std::map<uint32_t, std::pair<const std::byte*, const std::byte*>> ranges;
    for (const Tensor& t : model->tensors()) {
      if (!is_mapped(t)) continue;
      auto [it, fresh] = ranges.try_emplace(t.file, t.host_data, t.host_data + t.nbytes);
      if (!fresh) {
        it->second.first = std::min(it->second.first, t.host_data);
        it->second.second = std::max(it->second.second, t.host_data + t.nbytes);
      }
    }
    for (auto& [file, range] : ranges) mapped[file] = host_buffer(range.first, range.second);
  }

  // In the mapping, as loaded (a LoRA may since have moved it to a private
  // copy: generation != 0).
  static bool is_mapped(const Tensor& t) {
    return t.placement == Placement::kMap && !t.on_device && t.host_data != nullptr && t.nbytes > 0 &&
           t.generation == 0;
  }

  // Points tensor i's ggml tensor at where the model has its bytes now.
  Status back(size_t i) {
    const Tensor& t = model->tensor(i);
    ggml_tensor* g = tensors[i];
    g->buffer = nullptr;
    g->data = nullptr;
    if (own[i] != nullptr) {
      ggml_backend_buffer_free(own[i]);
      own[i] = nullptr;
    }
    ggml_backend_buffer_t buffer = nullptr;
    void* addr = nullptr;
    if (t.on_device) {
      buffer = backend_buffer_of(model->device(t.device), t.device_buffer);
      if (buffer == nullptr) {
        return tensor_error(t, "it is on device '" + model->devices()[t.device].name +
                                   "', which is not a wm::ggml::make_device() device: ggml cannot use its buffer",
                            ErrorCode::kUnsupported);
      }
      backing[i] = Backing::kDevice;
      addr = ggml_backend_buffer_get_base(buffer);
    } else {
      if (t.host_data == nullptr || t.nbytes == 0) return Status{};  // nothing to point at (an empty tensor)
      auto file = mapped.find(t.file);
      if (t.placement == Placement::kMap && file != mapped.end() && buffer_holds(file->second, t.host_data, t.nbytes)) {
        buffer = file->second;  // in the mapping (as loaded, or moved back by remove_loras)
        backing[i] = Backing::kMapped;
      } else {
        buffer = own[i] = host_buffer(t.host_data, t.host_data + t.nbytes);
        backing[i] = Backing::kHostCopy;
      }
      addr = const_cast<std::byte*>(t.host_data);  // ggml's data is not const; weights are only read
    }
    const size_t needed = ggml_backend_buffer_get_alloc_size(buffer, g);
    if (!buffer_holds(buffer, static_cast<const std::byte*>(addr), needed)) {
      return tensor_error(t, std::string("its ") + ggml_backend_buffer_name(buffer) + " buffer is smaller than the " +
                                 std::to_string(needed) + " bytes the backend needs for it",
                          ErrorCode::kDevice);
    }
    if (ggml_backend_tensor_alloc(buffer, g, addr) != GGML_STATUS_SUCCESS) {
      return tensor_error(t, std::string("the ") + ggml_backend_buffer_name(buffer) +
                                 " backend could not set the tensor up in its buffer",
                          ErrorCode::kDevice);
    }
    return Status{};
  }

  Status make_lora() {
    free_lora();
    size_t bytes = 0, count = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      for (const LoraTerm& term : model->lora_terms(i)) {
        bytes += (term.down.size() + term.up.size()) * sizeof(float);
        count += 2;
      }
    }
    if (count == 0) return Status{};
    ggml_init_params params{bytes + count * (ggml_tensor_overhead() + kBufferAlignment), nullptr, false};
    lora_ctx = ggml_init(params);
    if (lora_ctx == nullptr) return Error{{}, {}, {}, "no memory for the run-time LoRA factors", ErrorCode::kOutOfMemory};
    for (size_t i = 0; i < tensors.size(); ++i) {
      for (const LoraTerm& term : model->lora_terms(i)) {
        LoraFactors f;
        f.down = ggml_new_tensor_2d(lora_ctx, GGML_TYPE_F32, static_cast<int64_t>(term.cols), term.rank);
        f.up = ggml_new_tensor_2d(lora_ctx, GGML_TYPE_F32, term.rank, static_cast<int64_t>(term.rows));
        std::memcpy(f.down->data, term.down.data(), term.down.size() * sizeof(float));
        std::memcpy(f.up->data, term.up.data(), term.up.size() * sizeof(float));
        f.scale = term.scale;
        lora[i].push_back(f);
      }
    }
    return Status{};
  }
};

Result<Weights> Weights::create(const Model& model) {
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  const size_t n = model.size();
  ggml_init_params params{(n + 1) * ggml_tensor_overhead(), nullptr, true};
  impl->ctx = ggml_init(params);
  if (impl->ctx == nullptr) return Error{{}, {}, {}, "ggml_init failed for the weights' context", ErrorCode::kOutOfMemory};
  impl->backing.assign(n, Backing::kHostCopy);
  impl->own.assign(n, nullptr);
  impl->lora.assign(n, {});
  for (size_t i = 0; i < n; ++i) {
    auto g = impl->make_tensor(model.tensor(i));
    if (!g) return g.error();
    impl->tensors.push_back(*g);
    impl->by_name.emplace(model.tensor(i).name, i);
  }
  impl->make_mapped_buffers();
  for (size_t i = 0; i < n; ++i) {
    if (Status s = impl->back(i); !s) return s.error();
  }
  if (Status s = impl->make_lora(); !s) return s.error();
  impl->generation = model.generation();
  return Weights(std::move(impl));
}

Result<size_t> Weights::update() {
  Impl& m = *impl_;
  if (m.model->released()) {
    return Error{{}, {}, {}, "the Model was released: its tensors' bytes are gone", ErrorCode::kInvalidArgument};
  }
  size_t moved = 0;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const Tensor& t = m.model->tensor(i);
    if (t.generation <= m.generation) continue;
    const void* now = t.on_device ? nullptr : t.host_data;
    const bool same = t.on_device ? m.backing[i] == Backing::kDevice : m.tensors[i]->data == now;
    if (same) continue;  // changed in place: same address, new bytes
    if (Status s = m.back(i); !s) return s.error();
    ++moved;
  }
  // The run-time terms may change without any tensor's generation moving
  // (an at_runtime LoRA changes no bytes): rebuilt every time, they are small.
  if (Status s = m.make_lora(); !s) return s.error();
  m.generation = m.model->generation();
  return moved;
}

ggml_tensor* Weights::mul_mat(ggml_context* graph_ctx, size_t index, ggml_tensor* x) const {
  ggml_tensor* y = ggml_mul_mat(graph_ctx, impl_->tensors[index], x);
  for (const LoraFactors& f : impl_->lora[index]) {
    ggml_tensor* low = ggml_mul_mat(graph_ctx, f.up, ggml_mul_mat(graph_ctx, f.down, x));
    y = ggml_add(graph_ctx, y, ggml_scale(graph_ctx, low, f.scale));
  }
  return y;
}

Weights::Weights(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Weights::Weights(Weights&&) noexcept = default;
Weights& Weights::operator=(Weights&&) noexcept = default;
Weights::~Weights() = default;

ggml_context* Weights::context() const { return impl_->ctx; }
size_t Weights::size() const { return impl_->tensors.size(); }
ggml_tensor* Weights::tensor(size_t index) const { return impl_->tensors[index]; }
Backing Weights::backing(size_t index) const { return impl_->backing[index]; }

ggml_tensor* Weights::get(std::string_view name) const {
  auto it = impl_->by_name.find(std::string(name));
  return it == impl_->by_name.end() ? nullptr : impl_->tensors[it->second];
}

const std::vector<Weights::LoraFactors>& Weights::lora_factors(size_t index) const { return impl_->lora[index]; }

size_t Weights::buffer_count() const {
  return impl_->mapped.size() +
         static_cast<size_t>(std::count_if(impl_->own.begin(), impl_->own.end(), [](auto b) { return b != nullptr; }));
}

}  // namespace wm::ggml
