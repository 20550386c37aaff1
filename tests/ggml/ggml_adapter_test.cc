// The ggml adapter, checked with ggml itself: the same GGUF loaded by ggml's
// own gguf_init_from_file and through weightmap + wm::ggml::Weights gives the
// same bytes and, through ggml graphs computed by ggml's CPU backend, the
// same outputs bit for bit; mapped tensors point into the mapping; a
// non-host buffer type gets its tensors through weightmap's staging; LoRA,
// merged and at run time, against a double-precision reference.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>
#include <gguf.h>

#include "dtype/block_codec.h"
#include "io/process_memory.h"
#include "lora_test_support.h"
#include "test_support.h"
#include "weightmap/ggml.hpp"
#include "weightmap/weightmap.hpp"

#if WM_GGML_BACKEND_IMPL
#include <ggml-backend-impl.h>
#endif

namespace wm::test {
namespace {

using lora_test::Convention;
using lora_test::Factors;
using lora_test::random_factors;
using lora_test::random_floats;

struct Spec {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;  // outermost first
};

// Bytes of `dtype` for random values (quantised by weightmap's reference
// quantisers, ggml's *_ref; ggml reads them back with its own code).
std::vector<std::byte> random_bytes(DType dtype, uint64_t elements, uint64_t seed) {
  std::vector<float> v = random_floats(elements, seed, -1, 1);
  const uint64_t block = dtype_block_elems(dtype);
  std::vector<std::byte> out(elements / block * dtype_block_bytes(dtype));
  block_codec(dtype)->quantize(v.data(), out.data(), elements / block);
  return out;
}

void write_gguf(const std::string& path, const std::vector<Spec>& specs, uint64_t seed = 1) {
  GgufWriter w;
  w.add_metadata("general.architecture", MetaValue::str("llama"));
  for (const Spec& s : specs) {
    uint64_t n = 1;
    for (uint64_t d : s.shape) n *= d;
    w.add_tensor(s.name, s.dtype, s.shape, TensorData::bytes(random_bytes(s.dtype, n, seed++)));
  }
  Status st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
}

// Every type the issue names: F32, F16, Q8_0, Q4_0 and K-quants, plus an
// embedding for get_rows and a 1-D norm.
std::vector<Spec> mixed_model() {
  return {{"token_embd.weight", DType::Q8_0, {40, 256}},
          {"blk.0.attn_norm.weight", DType::F32, {256}},
          {"blk.0.attn_q.weight", DType::F32, {48, 256}},
          {"blk.0.attn_k.weight", DType::F16, {48, 256}},
          {"blk.0.attn_v.weight", DType::BF16, {48, 256}},
          {"blk.0.ffn_up.weight", DType::Q8_0, {64, 256}},
          {"blk.0.ffn_gate.weight", DType::Q4_0, {64, 256}},
          {"blk.0.ffn_down.weight", DType::Q4_1, {64, 256}},
          {"blk.1.attn_q.weight", DType::Q4_K, {32, 512}},
          {"blk.1.attn_k.weight", DType::Q5_K, {32, 256}},
          {"blk.1.attn_v.weight", DType::Q6_K, {32, 256}},
          {"output.weight", DType::Q5_0, {40, 256}}};
}

struct GgmlFree {
  void operator()(ggml_context* c) const { ggml_free(c); }
};
using Context = std::unique_ptr<ggml_context, GgmlFree>;

// ggml's own load: every tensor's data read into a ggml context.
struct GgmlLoad {
  Context ctx;
  gguf_context* gguf = nullptr;
  explicit GgmlLoad(const std::string& path) {
    ggml_context* c = nullptr;
    gguf_init_params params{false, &c};
    gguf = gguf_init_from_file(path.c_str(), params);
    ctx.reset(c);
  }
  ~GgmlLoad() {
    if (gguf != nullptr) gguf_free(gguf);
  }
  ggml_tensor* get(const std::string& name) const { return ggml_get_tensor(ctx.get(), name.c_str()); }
};

// The graph the issue names: every matrix times one fixed vector, and rows
// of the embedding; computed by ggml's CPU backend. Returns each output's
// bytes, by tensor name.
std::map<std::string, std::vector<std::byte>> run_graph(const std::vector<std::pair<std::string, ggml_tensor*>>& ws) {
  ggml_init_params params{64 << 20, nullptr, false};
  Context ctx(ggml_init(params));
  ggml_cgraph* graph = ggml_new_graph(ctx.get());
  std::vector<std::pair<std::string, ggml_tensor*>> outs;
  for (const auto& [name, w] : ws) {
    ggml_tensor* y = nullptr;
    if (name == "token_embd.weight") {
      ggml_tensor* ids = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_I32, 3);
      const int32_t rows[3] = {0, 7, static_cast<int32_t>(w->ne[1] - 1)};
      std::memcpy(ids->data, rows, sizeof rows);
      y = ggml_get_rows(ctx.get(), w, ids);
    } else if (ggml_n_dims(w) == 2) {
      ggml_tensor* x = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, w->ne[0]);
      for (int64_t i = 0; i < w->ne[0]; ++i) static_cast<float*>(x->data)[i] = std::sin(0.37f * static_cast<float>(i));
      y = ggml_mul_mat(ctx.get(), w, x);
    } else {
      continue;
    }
    ggml_build_forward_expand(graph, y);
    outs.emplace_back(name, y);
  }
  EXPECT_EQ(ggml_graph_compute_with_ctx(ctx.get(), graph, 2), GGML_STATUS_SUCCESS);
  std::map<std::string, std::vector<std::byte>> result;
  for (const auto& [name, y] : outs) {
    const auto* p = static_cast<const std::byte*>(y->data);
    result[name].assign(p, p + ggml_nbytes(y));
  }
  return result;
}

std::vector<std::pair<std::string, ggml_tensor*>> all_of(const GgmlLoad& g, const std::vector<Spec>& specs) {
  std::vector<std::pair<std::string, ggml_tensor*>> out;
  for (const Spec& s : specs) out.emplace_back(s.name, g.get(s.name));
  return out;
}

std::vector<std::pair<std::string, ggml_tensor*>> all_of(const ggml::Weights& w, const Model& m) {
  std::vector<std::pair<std::string, ggml_tensor*>> out;
  for (size_t i = 0; i < m.size(); ++i) out.emplace_back(m.tensor(i).name, w.tensor(i));
  return out;
}

TEST(GgmlAdapter, SameTensorsAndGraphOutputsAsGgmlsOwnLoader) {
  TempDir dir;
  const auto specs = mixed_model();
  write_gguf(dir.file("m.gguf"), specs);
  GgmlLoad ref(dir.file("m.gguf"));
  ASSERT_NE(ref.gguf, nullptr) << "ggml cannot read the file";

  auto model = wm::open(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  auto weights = ggml::Weights::create(*model);
  ASSERT_TRUE(weights.ok()) << weights.error().to_string();
  ASSERT_EQ(weights->size(), specs.size());
  for (const Spec& s : specs) {
    SCOPED_TRACE(s.name);
    ggml_tensor* mine = weights->get(s.name);
    ggml_tensor* theirs = ref.get(s.name);
    ASSERT_NE(mine, nullptr);
    ASSERT_NE(theirs, nullptr);
    EXPECT_EQ(mine->type, theirs->type);
    for (int d = 0; d < GGML_MAX_DIMS; ++d) {
      EXPECT_EQ(mine->ne[d], theirs->ne[d]) << "ne[" << d << "]";
      EXPECT_EQ(mine->nb[d], theirs->nb[d]) << "nb[" << d << "]";
    }
    EXPECT_STREQ(ggml_get_name(mine), ggml_get_name(theirs));
    ASSERT_EQ(ggml_nbytes(mine), ggml_nbytes(theirs));
    EXPECT_EQ(std::memcmp(mine->data, theirs->data, ggml_nbytes(mine)), 0) << "bytes differ from ggml's own read";
  }

  const auto want = run_graph(all_of(ref, specs));
  const auto got = run_graph(all_of(*weights, *model));
  ASSERT_EQ(want.size(), specs.size() - 1);  // every 2-D tensor and the embedding; not the norm
  for (const auto& [name, bytes] : want) {
    SCOPED_TRACE(name);
    ASSERT_EQ(got.count(name), 1u);
    EXPECT_EQ(got.at(name), bytes) << "graph output differs from ggml's own load, bit for bit";
  }
}

TEST(GgmlAdapter, MappedTensorsPointIntoTheMappingThroughOneBufferPerFile) {
  TempDir dir;
  const auto specs = mixed_model();
  write_gguf(dir.file("a.gguf"), {specs.begin(), specs.begin() + 6});
  write_gguf(dir.file("b.gguf"), {specs.begin() + 6, specs.end()});
  auto model = wm::open(std::vector<std::string>{dir.file("a.gguf"), dir.file("b.gguf")});
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  auto weights = ggml::Weights::create(*model);
  ASSERT_TRUE(weights.ok()) << weights.error().to_string();
  // The seed's edge case: every tensor mapped, so no parameter buffer to
  // allocate: only the two mappings' buffers, and nothing fails.
  EXPECT_EQ(weights->buffer_count(), 2u);
  std::map<uint32_t, ggml_backend_buffer_t> buffer_of_file;
  for (size_t i = 0; i < model->size(); ++i) {
    const Tensor& t = model->tensor(i);
    SCOPED_TRACE(t.name);
    ASSERT_EQ(t.placement, Placement::kMap);
    EXPECT_EQ(weights->backing(i), ggml::Backing::kMapped);
    ggml_tensor* g = weights->tensor(i);
    EXPECT_EQ(g->data, static_cast<const void*>(t.host_data)) << "a pointer into weightmap's mapping";
    ASSERT_NE(g->buffer, nullptr);
    EXPECT_STREQ(ggml_backend_buffer_name(g->buffer), "CPU_Mapped");
    EXPECT_TRUE(ggml_backend_buffer_is_host(g->buffer));
    EXPECT_EQ(ggml_backend_buffer_get_usage(g->buffer), GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    auto [it, fresh] = buffer_of_file.try_emplace(t.file, g->buffer);
    EXPECT_EQ(it->second, g->buffer) << "one buffer per file's mapping";
  }
  EXPECT_EQ(buffer_of_file.size(), 2u);
}

uint64_t rss_anon_bytes() { return read_process_memory().anon_kib * 1024; }

TEST(GgmlAdapter, AdapterKeepsAnonymousMemoryFlatWhereGgmlsLoadCopiesTheModel) {
#if !defined(__linux__)
  GTEST_SKIP() << "RssAnon is Linux's /proc/self/status";
#elif defined(WM_SANITIZED)
  GTEST_SKIP() << "memory figures mean little under a sanitizer (shadow memory, quarantine)";
#else
  TempDir dir;
  // 128 MiB: 64 F16 matrices of 2 MiB.
  std::vector<Spec> specs;
  for (int i = 0; i < 64; ++i) specs.push_back({"blk." + std::to_string(i) + ".w", DType::F16, {1024, 1024}});
  write_gguf(dir.file("big.gguf"), specs);
  const double model_bytes = 64.0 * 1024 * 1024 * 2;
  {  // What a process pays once, whatever the model (thread stacks, first allocations), paid first.
    write_gguf(dir.file("tiny.gguf"), {{"t", DType::F16, {1, 64}}});
    auto tiny = wm::open(dir.file("tiny.gguf"));
    ASSERT_TRUE(tiny.ok()) << tiny.error().to_string();
    ASSERT_TRUE(ggml::Weights::create(*tiny).ok());
  }

  uint64_t before = rss_anon_bytes();
  {
    auto model = wm::open(dir.file("big.gguf"));
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    auto weights = ggml::Weights::create(*model);
    ASSERT_TRUE(weights.ok()) << weights.error().to_string();
    double sum = 0;  // read every byte through ggml's tensors
    for (size_t i = 0; i < weights->size(); ++i) {
      const auto* p = static_cast<const unsigned char*>(weights->tensor(i)->data);
      for (size_t k = 0; k < ggml_nbytes(weights->tensor(i)); k += 64) sum += p[k];
    }
    EXPECT_GT(sum, 0);
    const double grew = static_cast<double>(rss_anon_bytes()) - static_cast<double>(before);
    EXPECT_LT(grew, 0.01 * model_bytes) << "weightmap + adapter: RssAnon grew by " << grew << " bytes";
  }
  before = rss_anon_bytes();
  {
    GgmlLoad ref(dir.file("big.gguf"));
    ASSERT_NE(ref.gguf, nullptr);
    const double grew = static_cast<double>(rss_anon_bytes()) - static_cast<double>(before);
    EXPECT_GT(grew, 0.9 * model_bytes) << "ggml's own load: RssAnon grew by only " << grew << " bytes";
  }
#endif
}

TEST(GgmlAdapter, CopiedAndConvertedTensorsAreBackedByWeightmapsHostCopy) {
  TempDir dir;
  write_gguf(dir.file("m.gguf"), {{"a.weight", DType::F16, {32, 64}}, {"b.weight", DType::F32, {32, 64}}});
  Options options;
  options.type_rules = "a.weight=F32";  // converted on the way
  options.use_mmap = false;             // and b copied
  auto model = wm::open(dir.file("m.gguf"), options);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  auto weights = ggml::Weights::create(*model);
  ASSERT_TRUE(weights.ok()) << weights.error().to_string();
  GgmlLoad ref(dir.file("m.gguf"));
  for (size_t i = 0; i < 2; ++i) {
    const Tensor& t = model->tensor(i);
    SCOPED_TRACE(t.name);
    EXPECT_EQ(weights->backing(i), ggml::Backing::kHostCopy);
    ggml_tensor* g = weights->tensor(i);
    EXPECT_EQ(g->type, GGML_TYPE_F32);
    EXPECT_EQ(g->data, static_cast<const void*>(t.host_data)) << "weightmap's copy, not a second one";
    EXPECT_STREQ(ggml_backend_buffer_name(g->buffer), "CPU_Mapped");  // ggml's name for a buffer over a pointer
  }
  // The converted values are ggml's own F16 -> F32 conversion of the file.
  ggml_tensor* a16 = ref.get("a.weight");
  const float* a32 = static_cast<const float*>(weights->get("a.weight")->data);
  for (int64_t k = 0; k < ggml_nelements(a16); ++k) {
    ASSERT_EQ(a32[k], ggml_fp16_to_fp32(static_cast<const ggml_fp16_t*>(a16->data)[k])) << "element " << k;
  }
  EXPECT_EQ(weights->buffer_count(), 2u);
}

TEST(GgmlAdapter, ErrorsNameTheTensor) {
  TempDir dir;
  SafetensorsWriter w;
  w.add_tensor("flag", DType::BOOL, {4}, TensorData::bytes(std::vector<std::byte>(4)));
  ASSERT_TRUE(w.write(dir.file("m.safetensors")).ok());
  auto model = wm::open(dir.file("m.safetensors"));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  auto weights = ggml::Weights::create(*model);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.error().tensor, "flag");
  EXPECT_EQ(weights.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(weights.error().message.find("BOOL"), std::string::npos) << weights.error().message;

  // A tensor on a device ggml cannot see (sim is weightmap's own).
  write_gguf(dir.file("m.gguf"), {{"a.weight", DType::F32, {4, 32}}});
  Options options;
  options.device_rules = "*=sim";
  auto on_sim = wm::open(dir.file("m.gguf"), options);
  ASSERT_TRUE(on_sim.ok()) << on_sim.error().to_string();
  auto refused = ggml::Weights::create(*on_sim);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().tensor, "a.weight");
  EXPECT_NE(refused.error().message.find("'sim'"), std::string::npos) << refused.error().message;
}

TEST(GgmlAdapter, LongNamesAreFoundWholeAndUpdateAfterReleaseFails) {
  TempDir dir;
  // A diffusers-style qualified name, longer than ggml's 63 characters.
  const std::string long_name = "model.diffusion_model.output_blocks.2.1.transformer_blocks.0.attn1.to_q.weight";
  ASSERT_GT(long_name.size(), static_cast<size_t>(GGML_MAX_NAME));
  write_gguf(dir.file("m.gguf"), {{long_name, DType::F16, {8, 64}}, {"short.weight", DType::F16, {8, 64}}});
  auto model = wm::open(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  auto weights = ggml::Weights::create(*model);
  ASSERT_TRUE(weights.ok()) << weights.error().to_string();
  ggml_tensor* t = weights->get(long_name);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t, weights->tensor(model->index_of(long_name).value()));
  EXPECT_EQ(std::string(ggml_get_name(t)), long_name.substr(0, GGML_MAX_NAME - 1)) << "ggml keeps a prefix";
  EXPECT_EQ(weights->get(long_name.substr(0, GGML_MAX_NAME - 1)), nullptr) << "a prefix is not the name";

  ASSERT_TRUE(model->release().ok());
  auto updated = weights->update();
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.error().code, ErrorCode::kInvalidArgument);
}

// --- a non-host backend buffer type --------------------------------------
#if WM_GGML_BACKEND_IMPL
// A buffer type like a GPU's: not host-visible, so ggml (and weightmap)
// must copy through set_tensor. Its memory is ordinary heap memory, which
// lets the test read it back; it records the largest copy.
struct FakeDevice {
  static inline std::atomic<uint64_t> largest_set{0}, bytes_set{0}, buffers{0};
  static void reset() { largest_set = bytes_set = buffers = 0; }
  // One copy into the device's memory, whichever way it came.
  static void record(uint64_t size) {
    bytes_set += size;
    uint64_t seen = largest_set;
    while (size > seen && !largest_set.compare_exchange_weak(seen, size)) {
    }
  }
};

void fake_free(ggml_backend_buffer_t b) {
  std::free(b->context);
  --FakeDevice::buffers;
}
void* fake_base(ggml_backend_buffer_t b) { return b->context; }
void fake_set(ggml_backend_buffer_t, ggml_tensor* t, const void* data, size_t offset, size_t size) {
  std::memcpy(static_cast<char*>(t->data) + offset, data, size);
  FakeDevice::record(size);
}
void fake_get(ggml_backend_buffer_t, const ggml_tensor* t, void* data, size_t offset, size_t size) {
  std::memcpy(data, static_cast<const char*>(t->data) + offset, size);
}
const char* fake_name(ggml_backend_buffer_type_t) { return "FakeGPU"; }
size_t fake_alignment(ggml_backend_buffer_type_t) { return 256; }
bool fake_is_host(ggml_backend_buffer_type_t) { return false; }
ggml_backend_buffer_t fake_alloc(ggml_backend_buffer_type_t type, size_t size) {
  ggml_backend_buffer_i iface{};
  iface.free_buffer = fake_free;
  iface.get_base = fake_base;
  iface.set_tensor = fake_set;
  iface.get_tensor = fake_get;
  void* p = std::aligned_alloc(256, (size + 255) / 256 * 256);
  if (p == nullptr) return nullptr;
  ++FakeDevice::buffers;
  return ggml_backend_buffer_init(type, iface, p, size);
}
ggml_backend_buffer_type fake_type{{fake_name, fake_alloc, fake_alignment, nullptr, nullptr, fake_is_host}, nullptr, nullptr};

// A backend (stream) of that device with asynchronous copies and events, as
// a GPU's: a copy runs later, on the stream's own thread, so an upload
// reported done before its event passed would let weightmap reuse the
// staging slot under it, and the bytes would come out wrong.
struct FakeStream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  uint64_t submitted = 0, finished = 0;
  bool stop = false;
  std::atomic<uint64_t> async_copies{0};
  std::thread worker{[this] { run(); }};

  ~FakeStream() {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }
  void run() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !jobs.empty(); });
      if (jobs.empty()) return;
      auto job = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // the copy engine is busy
      job();
      lock.lock();
      ++finished;
      cv.notify_all();
    }
  }
  uint64_t enqueue(std::function<void()> job) {
    std::lock_guard lock(mu);
    jobs.push_back(std::move(job));
    cv.notify_all();
    return ++submitted;
  }
  void wait_for(uint64_t seq) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished >= seq; });
  }
};
FakeStream* fake_stream = nullptr;

const char* fake_backend_name(ggml_backend_t) { return "FakeGPU0"; }
void fake_set_async(ggml_backend_t, ggml_tensor* t, const void* data, size_t offset, size_t size) {
  ++fake_stream->async_copies;
  char* dst = static_cast<char*>(t->data) + offset;
  fake_stream->enqueue([=] {
    std::memcpy(dst, data, size);
    FakeDevice::record(size);
  });
}
void fake_synchronize(ggml_backend_t) { fake_stream->wait_for(fake_stream->enqueue([] {})); }
void fake_event_record(ggml_backend_t, ggml_backend_event_t e) {
  *static_cast<uint64_t*>(e->context) = fake_stream->enqueue([] {});
}
const char* fake_dev_name(ggml_backend_dev_t) { return "FakeGPU"; }
void fake_dev_props(ggml_backend_dev_t, ggml_backend_dev_props* props) {
  props->name = "FakeGPU";
  props->description = "a test device";
  props->type = GGML_BACKEND_DEVICE_TYPE_GPU;
  props->caps.async = true;
  props->caps.events = true;
}
bool fake_supports_buft(ggml_backend_dev_t, ggml_backend_buffer_type_t t) { return t == &fake_type; }
ggml_backend_event_t fake_event_new(ggml_backend_dev_t dev) { return new ggml_backend_event{dev, new uint64_t(0)}; }
void fake_event_free(ggml_backend_dev_t, ggml_backend_event_t e) {
  delete static_cast<uint64_t*>(e->context);
  delete e;
}
void fake_event_synchronize(ggml_backend_dev_t, ggml_backend_event_t e) {
  fake_stream->wait_for(*static_cast<uint64_t*>(e->context));
}
ggml_backend_device fake_device = [] {
  ggml_backend_device d{};
  d.iface.get_name = fake_dev_name;
  d.iface.get_props = fake_dev_props;
  d.iface.supports_buft = fake_supports_buft;
  d.iface.event_new = fake_event_new;
  d.iface.event_free = fake_event_free;
  d.iface.event_synchronize = fake_event_synchronize;
  return d;
}();
ggml_guid fake_guid{};
ggml_backend fake_backend = [] {
  ggml_backend b{};
  b.guid = &fake_guid;
  b.iface.get_name = fake_backend_name;
  b.iface.set_tensor_async = fake_set_async;
  b.iface.synchronize = fake_synchronize;
  b.iface.event_record = fake_event_record;
  b.device = &fake_device;
  return b;
}();
#endif

class NonHost : public ::testing::TestWithParam<bool> {};  // asynchronous uploads?

TEST_P(NonHost, BufferTypeGetsTheTensorsThroughBoundedStaging) {
#if !WM_GGML_BACKEND_IMPL
  GTEST_SKIP() << "needs ggml's backend interface (ggml-backend-impl.h): configure with WM_GGML_SOURCE_DIR";
#else
  const bool async = GetParam();
  FakeStream stream;
  fake_stream = &stream;
  std::string log;
  TempDir dir;
  // Tensors larger than the staging budget, so uploads come in slices.
  const std::vector<Spec> specs{{"big.weight", DType::F32, {512, 1024}},   // 2 MiB
                                {"q.weight", DType::Q8_0, {256, 2048}},    // 544 KiB
                                {"half.weight", DType::F16, {300, 1024}}};  // 600 KiB
  write_gguf(dir.file("m.gguf"), specs);
  FakeDevice::reset();
  const uint64_t staging = 256 << 10;
  {
    Options options;
    // Staging from a host buffer type, as a GPU's pinned memory would be.
    ggml::DeviceOptions device_options;
    device_options.staging_type = ggml_backend_cpu_buffer_type();
    device_options.backend = async ? &fake_backend : nullptr;
    device_options.log = Logger([&](LogLevel, std::string_view m) { log += std::string(m) + "\n"; });
    options.devices = {ggml::make_device(&fake_type, "fakegpu", device_options)};
    options.device_rules = "*=fakegpu";
    options.staging_bytes = staging;
    auto model = wm::open(dir.file("m.gguf"), options);
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    auto weights = ggml::Weights::create(*model);
    ASSERT_TRUE(weights.ok()) << weights.error().to_string();
    EXPECT_EQ(weights->buffer_count(), 0u) << "the device's buffers back them: the adapter makes none";
    EXPECT_EQ(FakeDevice::buffers.load(), specs.size());
    const LoadReport report = model->report();
    EXPECT_LE(report.staging_peak_bytes, staging);
    EXPECT_GT(report.staging_device_bytes, 0u) << "the staging came from the device's host buffer type";
    EXPECT_LE(report.staging_device_bytes, staging);
    EXPECT_GT(FakeDevice::largest_set.load(), 0u);
    EXPECT_LE(FakeDevice::largest_set.load(), staging) << "every upload is one staging slot at most";

    GgmlLoad ref(dir.file("m.gguf"));
    uint64_t total = 0;
    for (size_t i = 0; i < model->size(); ++i) {
      const Tensor& t = model->tensor(i);
      SCOPED_TRACE(t.name);
      EXPECT_TRUE(t.on_device);
      EXPECT_EQ(weights->backing(i), ggml::Backing::kDevice);
      ggml_tensor* g = weights->tensor(i);
      ASSERT_NE(g->buffer, nullptr);
      EXPECT_EQ(ggml_backend_buffer_get_type(g->buffer), &fake_type);
      EXPECT_FALSE(ggml_backend_buffer_is_host(g->buffer));
      std::vector<std::byte> back(ggml_nbytes(g));
      ggml_backend_tensor_get(g, back.data(), 0, back.size());  // how an engine reads a device tensor
      ggml_tensor* theirs = ref.get(t.name);
      EXPECT_EQ(std::memcmp(back.data(), theirs->data, back.size()), 0) << "device bytes differ from ggml's own read";
      total += t.nbytes;
    }
    EXPECT_EQ(FakeDevice::bytes_set.load(), total) << "each byte uploaded once";
    if (async) {
      EXPECT_GT(stream.async_copies.load(), specs.size()) << "uploads in slices, on the backend's stream";
      EXPECT_NE(log.find("uploads are asynchronous on backend FakeGPU0"), std::string::npos) << log;
    } else {
      EXPECT_EQ(stream.async_copies.load(), 0u);
    }
  }
  EXPECT_EQ(FakeDevice::buffers.load(), 0u) << "the model's release frees every device buffer";
  fake_stream = nullptr;
#endif
}

INSTANTIATE_TEST_SUITE_P(GgmlAdapter, NonHost, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Async" : "Sync"; });

TEST(GgmlAdapter, ABackendWithoutAsynchronousCopiesIsUsedSynchronouslySayingWhy) {
  TempDir dir;
  write_gguf(dir.file("m.gguf"), {{"a.weight", DType::F16, {8, 64}}});
  ggml_backend_t cpu = ggml_backend_cpu_init();
  ASSERT_NE(cpu, nullptr);
  std::string log;
  ggml::DeviceOptions device_options;
  device_options.backend = cpu;
  device_options.log = Logger([&](LogLevel, std::string_view m) { log += std::string(m) + "\n"; });
  {
    Options options;
    // The CPU's buffer type is host memory: a device for it reads host
    // memory, so the rule keeps the tensor mapped; what is checked here is
    // the choice of upload path, said at once.
    options.devices = {ggml::make_device(ggml_backend_cpu_buffer_type(), "cpu2", device_options)};
    options.device_rules = "*=cpu2";
    EXPECT_NE(log.find("uploads are synchronous (ggml_backend_tensor_set): backend CPU offers no asynchronous copies"),
              std::string::npos)
        << log;
    auto model = wm::open(dir.file("m.gguf"), options);
    ASSERT_TRUE(model.ok()) << model.error().to_string();
    auto weights = ggml::Weights::create(*model);
    ASSERT_TRUE(weights.ok()) << weights.error().to_string();
    EXPECT_EQ(weights->backing(0), ggml::Backing::kMapped);
  }
  ggml_backend_free(cpu);
}

// --- LoRA -----------------------------------------------------------------
// y = W x in double, W read from the file as F32, plus scale * up (down x).
std::vector<double> reference(const std::vector<float>& w, uint64_t rows, uint64_t cols, const std::vector<float>& x,
                              const Factors* f) {
  std::vector<double> y(rows, 0.0);
  for (uint64_t i = 0; i < rows; ++i) {
    for (uint64_t j = 0; j < cols; ++j) y[i] += static_cast<double>(w[i * cols + j]) * x[j];
  }
  if (f != nullptr) {
    std::vector<double> t(f->rank, 0.0);
    for (uint32_t k = 0; k < f->rank; ++k) {
      for (uint64_t j = 0; j < cols; ++j) t[k] += static_cast<double>(f->down[k * cols + j]) * x[j];
    }
    for (uint64_t i = 0; i < rows; ++i) {
      double s = 0;
      for (uint32_t k = 0; k < f->rank; ++k) s += static_cast<double>(f->up[i * f->rank + k]) * t[k];
      y[i] += f->scale() * s;
    }
  }
  return y;
}

std::vector<float> graph_output(const ggml::Weights& weights, size_t index, const std::vector<float>& x) {
  ggml_init_params params{16 << 20, nullptr, false};
  Context ctx(ggml_init(params));
  ggml_tensor* in = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, static_cast<int64_t>(x.size()));
  std::memcpy(in->data, x.data(), x.size() * sizeof(float));
  ggml_tensor* y = weights.mul_mat(ctx.get(), index, in);
  ggml_cgraph* graph = ggml_new_graph(ctx.get());
  ggml_build_forward_expand(graph, y);
  EXPECT_EQ(ggml_graph_compute_with_ctx(ctx.get(), graph, 2), GGML_STATUS_SUCCESS);
  const auto* p = static_cast<const float*>(y->data);
  return {p, p + y->ne[0]};
}

void expect_near_reference(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    // F32 accumulation over 128 products of magnitude <= ~1.
    EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << what << " row " << i;
  }
}

TEST(GgmlAdapter, LoraImmediatelyAndAtRuntimeMatchADoublePrecisionReference) {
  TempDir dir;
  const uint64_t rows = 32, cols = 128;
  std::vector<float> w = random_floats(rows * cols, 11);
  GgufWriter gw;
  gw.add_tensor("blk.0.attn_q.weight", DType::F32, {rows, cols},
                TensorData::bytes(lora_test::encode(DType::F32, w)));
  gw.add_tensor("blk.0.attn_k.weight", DType::F32, {rows, cols},
                TensorData::bytes(lora_test::encode(DType::F32, random_floats(rows * cols, 12))));
  ASSERT_TRUE(gw.write(dir.file("m.gguf")).ok());
  const float strength = 0.75f;
  Factors f = random_factors(rows, cols, 4, 21, 8.0f, strength);
  lora_test::write_lora_safetensors(dir.file("l.safetensors"),
                                    {{"blk.0.attn_q", Convention::kPeft, &f, {rows, cols}}});
  const std::vector<float> x = random_floats(cols, 31);
  const auto plain = reference(w, rows, cols, x, nullptr);
  const auto merged = reference(w, rows, cols, x, &f);

  auto model = wm::open(dir.file("m.gguf"));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  auto weights = ggml::Weights::create(*model);
  ASSERT_TRUE(weights.ok()) << weights.error().to_string();
  const size_t q = model->index_of("blk.0.attn_q.weight").value();
  const std::vector<float> before = graph_output(*weights, q, x);
  expect_near_reference(before, plain, "no LoRA");
  ggml_tensor* q_tensor = weights->tensor(q);
  void* mapped_data = q_tensor->data;

  // Immediately: the mapped tensor moves to a private copy-on-write range,
  // and update() re-points it (only it).
  LoraOptions immediately;
  immediately.mode = LoraApplyMode::kImmediately;
  auto applied = model->apply_loras({{dir.file("l.safetensors"), strength}}, immediately);
  ASSERT_TRUE(applied.ok()) << applied.error().to_string();
  ASSERT_EQ(applied->moved, std::vector<size_t>{q});
  auto moved = weights->update();
  ASSERT_TRUE(moved.ok()) << moved.error().to_string();
  EXPECT_EQ(*moved, 1u);
  EXPECT_EQ(weights->tensor(q), q_tensor) << "the same ggml_tensor, re-pointed";
  EXPECT_EQ(q_tensor->data, static_cast<const void*>(model->tensor(q).host_data));
  EXPECT_NE(q_tensor->data, mapped_data);
  EXPECT_EQ(weights->backing(q), ggml::Backing::kHostCopy);
  expect_near_reference(graph_output(*weights, q, x), merged, "LoRA immediately");

  // Removed: back into the mapping, the output the file's again, bit for bit.
  ASSERT_TRUE(model->remove_loras().ok());
  moved = weights->update();
  ASSERT_TRUE(moved.ok()) << moved.error().to_string();
  EXPECT_EQ(*moved, 1u);
  EXPECT_EQ(q_tensor->data, mapped_data);
  EXPECT_EQ(weights->backing(q), ggml::Backing::kMapped);
  EXPECT_EQ(graph_output(*weights, q, x), before);

  // At run time: nothing moves; the factors become ggml tensors and
  // Weights::mul_mat adds them.
  LoraOptions at_runtime;
  at_runtime.mode = LoraApplyMode::kAtRuntime;
  applied = model->apply_loras({{dir.file("l.safetensors"), strength}}, at_runtime);
  ASSERT_TRUE(applied.ok()) << applied.error().to_string();
  moved = weights->update();
  ASSERT_TRUE(moved.ok()) << moved.error().to_string();
  EXPECT_EQ(*moved, 0u);
  EXPECT_EQ(q_tensor->data, mapped_data);
  ASSERT_EQ(weights->lora_factors(q).size(), 1u);
  EXPECT_EQ(weights->lora_factors(q)[0].down->ne[0], static_cast<int64_t>(cols));
  EXPECT_EQ(weights->lora_factors(q)[0].up->ne[1], static_cast<int64_t>(rows));
  EXPECT_TRUE(weights->lora_factors(model->index_of("blk.0.attn_k.weight").value()).empty());
  expect_near_reference(graph_output(*weights, q, x), merged, "LoRA at run time");
}

}  // namespace
}  // namespace wm::test
