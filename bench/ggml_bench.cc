// ggml's own GGUF loader against weightmap + the ggml adapter, one
// measurement per process (bench/ggml_bench.py runs it cold and warm):
//
//   ggml_bench --loader ggml|weightmap --graph|--no-graph [--threads N] MODEL.gguf
//
// - ggml: gguf_init_from_file with no_alloc = false: every tensor's bytes
//   are read into one ggml context (what ggml-based programs do without mmap).
// - weightmap: wm::open + wm::ggml::Weights::create: tensors point into the
//   file mapping; a background prefetch reads a cold file in.
// - --graph: one ggml graph that reads every weight once: a mat-vec per
//   matrix, get_rows on token_embd.weight, a sum of each 1-row float tensor,
//   each result summed to one scalar output. The checksum (the sum of those
//   outputs) must be the same for both loaders: same bytes, same kernels.
//
// Prints one JSON line on stdout; errors go to stderr with exit status 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ggml-cpu.h>
#include <ggml.h>
#include <gguf.h>

#include "io/process_memory.h"
#include "weightmap/ggml.hpp"
#include "weightmap/weightmap.hpp"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "ggml_bench: %s\n", message.c_str());
  std::exit(1);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Args {
  std::string loader;
  std::optional<bool> graph;
  int threads = 0;
  std::string path;
};

Args parse_args(int argc, char** argv) {
  const char* usage = "usage: ggml_bench --loader ggml|weightmap --graph|--no-graph [--threads N] MODEL.gguf";
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--loader" && i + 1 < argc) {
      a.loader = argv[++i];
    } else if (s == "--graph" || s == "--no-graph") {
      a.graph = s == "--graph";
    } else if (s == "--threads" && i + 1 < argc) {
      a.threads = std::atoi(argv[++i]);
      if (a.threads < 1) die(std::string("--threads wants a positive number, got '") + argv[i] + "'\n" + usage);
    } else if (s == "-h" || s == "--help") {
      std::puts(usage);
      std::exit(0);
    } else if (!s.empty() && s[0] != '-' && a.path.empty()) {
      a.path = s;
    } else {
      die("unexpected argument '" + s + "'\n" + usage);
    }
  }
  if (a.loader != "ggml" && a.loader != "weightmap") die("--loader must be ggml or weightmap\n" + std::string(usage));
  if (!a.graph) die("say --graph or --no-graph\n" + std::string(usage));
  if (a.path.empty()) die("no MODEL.gguf given\n" + std::string(usage));
  if (a.threads == 0) a.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return a;
}

// Tensors a mat-vec can read: ggml's CPU backend has a dot product for the
// float and quantised types, not for the integer ones.
bool mat_vec_type(ggml_type t) {
  return t != GGML_TYPE_I8 && t != GGML_TYPE_I16 && t != GGML_TYPE_I32 && t != GGML_TYPE_I64 && t != GGML_TYPE_F64;
}
// ggml_sum's CPU kernel takes these.
bool sum_type(ggml_type t) { return t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16; }

struct GraphResult {
  double checksum = 0;
  size_t outputs = 0;
  size_t skipped = 0;  // tensors the graph could not read (integer types, 1-row quantised)
};

// Builds and computes one graph over every weight; see the top of the file.
GraphResult run_graph(const std::vector<ggml_tensor*>& weights, int threads) {
  enum class Use { kMatVec, kSum, kSkip };
  std::vector<Use> use(weights.size());
  std::map<int64_t, ggml_tensor*> inputs;  // one x per row length
  size_t data_bytes = 0, objects = 0;
  int64_t widest = 0;
  const size_t pad = GGML_MEM_ALIGN;
  for (size_t i = 0; i < weights.size(); ++i) {
    const ggml_tensor* w = weights[i];
    if (ggml_nrows(w) > 1 && mat_vec_type(w->type) && ggml_is_contiguous(w)) {
      use[i] = Use::kMatVec;
      inputs.emplace(w->ne[0], nullptr);
      widest = std::max(widest, w->ne[0]);
      data_bytes += ggml_row_size(GGML_TYPE_F32, ggml_nrows(w)) + 2 * pad + sizeof(float);  // y, its sum
      objects += 3;  // a 2-D view (for 3-D and 4-D weights), y, sum
    } else if (sum_type(w->type)) {
      use[i] = Use::kSum;
      data_bytes += sizeof(float) + pad;
      objects += 1;
    } else {
      use[i] = Use::kSkip;
    }
  }
  for (const auto& [cols, x] : inputs) data_bytes += ggml_row_size(GGML_TYPE_F32, cols) + pad;
  objects += inputs.size() + 3;  // the x vectors, get_rows' ids, rows and sum
  const int64_t kRows = 4;       // get_rows on the token embedding
  for (const ggml_tensor* w : weights)
    if (std::strcmp(ggml_get_name(w), "token_embd.weight") == 0) data_bytes += 4 * ggml_row_size(GGML_TYPE_F32, w->ne[0]) + 64 * pad;
  // ggml_graph_compute_with_ctx takes its work buffer from this context too:
  // x converted to the weights' dot type (at most 4 bytes per element here) plus a cache line per thread.
  size_t work_bytes = static_cast<size_t>(widest) * 4 + 4096 * static_cast<size_t>(threads) + (1 << 20);
  const size_t graph_size = 4 * weights.size() + 64;
  size_t mem = ggml_graph_overhead_custom(graph_size, false) + (objects + 8) * ggml_tensor_overhead() + data_bytes +
               work_bytes + (1 << 20);

  ggml_init_params params{mem, nullptr, /*no_alloc=*/false};
  ggml_context* gctx = ggml_init(params);
  if (!gctx) die("ggml_init failed for the graph context (" + std::to_string(mem) + " bytes)");
  for (auto& [cols, x] : inputs) {
    x = ggml_new_tensor_1d(gctx, GGML_TYPE_F32, cols);
    auto* v = static_cast<float*>(x->data);
    for (int64_t k = 0; k < cols; ++k) v[k] = static_cast<float>(std::sin(static_cast<double>(k)) * 0.01);
  }

  ggml_cgraph* gf = ggml_new_graph_custom(gctx, graph_size, false);
  std::vector<ggml_tensor*> outputs;
  GraphResult r;
  for (size_t i = 0; i < weights.size(); ++i) {
    ggml_tensor* w = weights[i];
    ggml_tensor* out = nullptr;
    if (use[i] == Use::kMatVec) {
      // 3-D and 4-D weights (conv kernels, stacked experts) as one matrix of all their rows.
      ggml_tensor* m = ggml_n_dims(w) > 2 ? ggml_reshape_2d(gctx, w, w->ne[0], ggml_nrows(w)) : w;
      out = ggml_sum(gctx, ggml_mul_mat(gctx, m, inputs.at(w->ne[0])));
    } else if (use[i] == Use::kSum) {
      out = ggml_sum(gctx, w);
    } else {
      ++r.skipped;
      continue;
    }
    ggml_build_forward_expand(gf, out);
    outputs.push_back(out);
    if (std::strcmp(ggml_get_name(w), "token_embd.weight") == 0 && w->ne[1] > 1 && mat_vec_type(w->type)) {
      // What a forward pass does with the embedding: look up a few tokens.
      ggml_tensor* ids = ggml_new_tensor_1d(gctx, GGML_TYPE_I32, kRows);
      const int64_t rows = w->ne[1];
      const int32_t picks[kRows] = {0, 1, static_cast<int32_t>(rows / 2), static_cast<int32_t>(rows - 1)};
      std::memcpy(ids->data, picks, sizeof picks);
      ggml_tensor* emb = ggml_sum(gctx, ggml_get_rows(gctx, w, ids));
      ggml_build_forward_expand(gf, emb);
      outputs.push_back(emb);
    }
  }
  if (ggml_graph_compute_with_ctx(gctx, gf, threads) != GGML_STATUS_SUCCESS) die("ggml_graph_compute_with_ctx failed");
  for (const ggml_tensor* out : outputs) r.checksum += static_cast<double>(*static_cast<const float*>(out->data));
  r.outputs = outputs.size();
  ggml_free(gctx);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  const auto start = Clock::now();

  // Both loaders end in the same thing: the model's tensors as ggml tensors, in file order.
  std::vector<ggml_tensor*> weights;
  gguf_context* gguf = nullptr;      // ggml
  ggml_context* ggml_data = nullptr;  // ggml: holds the bytes
  wm::Model model;                   // weightmap (declared before `adapter`: destroyed after it)
  std::optional<wm::ggml::Weights> adapter;
  if (args.loader == "ggml") {
    gguf_init_params params{/*no_alloc=*/false, &ggml_data};
    gguf = gguf_init_from_file(args.path.c_str(), params);
    if (!gguf || !ggml_data) die("gguf_init_from_file could not load '" + args.path + "' (ggml logged why above)");
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf); ++i) {
      ggml_tensor* t = ggml_get_tensor(ggml_data, gguf_get_tensor_name(gguf, i));
      if (!t) die(std::string("ggml's context lacks tensor '") + gguf_get_tensor_name(gguf, i) + "'");
      weights.push_back(t);
    }
  } else {
    auto opened = wm::open(args.path);
    if (!opened) die(opened.error().to_string());
    model = std::move(*opened);  // in its final place before Weights::create: it must outlive the Weights
    auto created = wm::ggml::Weights::create(model);
    if (!created) die(created.error().to_string());
    adapter.emplace(std::move(*created));
    for (size_t i = 0; i < adapter->size(); ++i) weights.push_back(adapter->tensor(i));
  }
  const double load_s = seconds_since(start);

  uint64_t bytes = 0;
  for (const ggml_tensor* t : weights) bytes += ggml_nbytes(t);

  GraphResult graph;
  double graph_s = 0;
  if (*args.graph) {
    const auto graph_start = Clock::now();
    graph = run_graph(weights, args.threads);
    graph_s = seconds_since(graph_start);
  }

  // weightmap's background prefetch may still be reading a cold file. The
  // graph read mapped pages as they came (a page fault reads a missing one),
  // so it did not need to wait; without a graph, "loaded" means the bytes
  // are in memory, as ggml's are. Either way a read error surfaces here.
  double ready_s = 0;
  if (args.loader == "weightmap") {
    const auto ready_start = Clock::now();
    for (size_t i = 0; i < model.size(); ++i)
      if (wm::Status s = model.wait_ready(i); !s) die(s.error().to_string());
    ready_s = seconds_since(ready_start);
  }
  const double total_s = seconds_since(start);

  // Before anything is freed: what holding the weights costs.
  // The library's reading of /proc/self/status (0 where the OS has no such figure).
  const wm::ProcessMemory memory = wm::read_process_memory();
  const uint64_t peak_rss = memory.peak_rss_kib * 1024;
  const uint64_t rss_anon = memory.anon_kib * 1024;
  std::printf(
      "{\"loader\":\"%s\",\"graph\":%s,\"threads\":%d,\"load_s\":%.6f,\"ready_s\":%.6f,\"graph_s\":%.6f,"
      "\"total_s\":%.6f,\"peak_rss_bytes\":%llu,\"rss_anon_bytes\":%llu,\"checksum\":%.17g,\"outputs\":%zu,"
      "\"skipped\":%zu,\"tensors\":%zu,\"bytes\":%llu}\n",
      args.loader.c_str(), *args.graph ? "true" : "false", args.threads, load_s, ready_s, graph_s, total_s,
      static_cast<unsigned long long>(peak_rss), static_cast<unsigned long long>(rss_anon), graph.checksum,
      graph.outputs, graph.skipped, weights.size(), static_cast<unsigned long long>(bytes));
  std::fflush(stdout);

  adapter.reset();
  if (gguf) gguf_free(gguf);
  if (ggml_data) ggml_free(ggml_data);
  return 0;
}
