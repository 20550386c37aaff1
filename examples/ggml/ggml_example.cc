// A ggml engine's weight loading through weightmap: open a GGUF, get a ggml
// context whose tensors point into the file mapping (nothing copied), and
// compute a ggml graph over them with ggml's CPU backend.
//
//   ggml_example model.gguf [tensor-name]
//
// Multiplies one matrix (the first 2-D tensor, or the one named) by a
// vector of ones and prints the first outputs, and how each tensor is backed.
#include <cstdio>
#include <optional>

#include <ggml-cpu.h>
#include <ggml.h>

#include "weightmap/ggml.hpp"
#include "weightmap/weightmap.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [TENSOR]\n", argv[0]);
    return 2;
  }
  // What replaces gguf_init_from_file(path, {.no_alloc = false, .ctx = &ctx}):
  auto model = wm::open(argv[1]);
  if (!model) {
    std::fprintf(stderr, "%s\n", model.error().to_string().c_str());
    return 1;
  }
  auto weights = wm::ggml::Weights::create(*model);
  if (!weights) {
    std::fprintf(stderr, "%s\n", weights.error().to_string().c_str());
    return 1;
  }
  size_t mapped = 0;
  for (size_t i = 0; i < weights->size(); ++i) mapped += weights->backing(i) == wm::ggml::Backing::kMapped;
  std::printf("%zu tensors, %zu used in place from the mapping, %zu ggml buffers\n", weights->size(), mapped,
              weights->buffer_count());

  // The matrix: named, or the first 2-D one.
  std::optional<size_t> index = argc > 2 ? model->index_of(argv[2]) : std::nullopt;
  for (size_t i = 0; !index && argc <= 2 && i < weights->size(); ++i) {
    if (ggml_n_dims(weights->tensor(i)) == 2) index = i;
  }
  if (!index || ggml_n_dims(weights->tensor(*index)) != 2) {
    std::fprintf(stderr, "no such 2-D tensor\n");
    return 1;
  }
  ggml_tensor* w = weights->tensor(*index);
  // A cold file may still be arriving (weightmap's background prefetch):
  // wait for this tensor's bytes, and hear about a failed read here rather
  // than as a fault inside ggml.
  if (auto ready = model->wait_ready(*index); !ready) {
    std::fprintf(stderr, "%s\n", ready.error().to_string().c_str());
    return 1;
  }

  // A graph over the weights: the engine's own code, unchanged.
  ggml_init_params params{64 * ggml_tensor_overhead() + ggml_graph_overhead() +
                              static_cast<size_t>(w->ne[0] + w->ne[1]) * sizeof(float) + (1 << 20),
                          nullptr, false};
  ggml_context* ctx = ggml_init(params);
  ggml_tensor* x = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, w->ne[0]);
  for (int64_t i = 0; i < w->ne[0]; ++i) static_cast<float*>(x->data)[i] = 1.0f;
  ggml_tensor* y = ggml_mul_mat(ctx, w, x);
  ggml_cgraph* graph = ggml_new_graph(ctx);
  ggml_build_forward_expand(graph, y);
  if (ggml_graph_compute_with_ctx(ctx, graph, 2) != GGML_STATUS_SUCCESS) {
    std::fprintf(stderr, "ggml could not compute the graph\n");
    return 1;
  }
  std::printf("%s (%s, %lld x %lld) x ones:", ggml_get_name(w), ggml_type_name(w->type),
              static_cast<long long>(w->ne[1]), static_cast<long long>(w->ne[0]));
  for (int64_t i = 0; i < y->ne[0] && i < 4; ++i) std::printf(" %g", static_cast<double>(ggml_get_f32_1d(y, i)));
  std::printf("\n");
  ggml_free(ctx);
  return 0;
}
