// An engine's use of weightmap: its own device (here host memory standing in
// for GPU buffers), weights bound once by pointer, a LoRA applied and the
// moved tensors re-bound. Compiled in CI; the README shows it.
//   engine_example MODEL_PATH [LORA_PATH]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>

#include <weightmap/weightmap.hpp>

// The minimal wm::Device: allocate, upload (synchronous here, so done runs
// at once), synchronize, download, free. A GPU's would use cudaMallocAsync,
// cudaMemcpyAsync on a stream and an event per upload.
class MyGpu : public wm::Device {
 public:
  MyGpu() { caps_ = {"mygpu", /*reads_host_memory=*/false, /*alignment=*/256, {}}; }
  const wm::DeviceCaps& caps() const override { return caps_; }
  wm::Result<wm::DeviceBuffer> allocate(uint64_t n, uint32_t align) override {
    // Aligned new (C++17) rather than std::aligned_alloc, which Windows' C
    // library lacks; one alignment for every buffer, so free() knows it.
    if (align > kAlign) return wm::Error{{}, {}, {}, "mygpu: alignment over 4096", wm::ErrorCode::kInvalidArgument};
    void* p = ::operator new((n + 255) / 256 * 256 + 256, std::align_val_t{kAlign}, std::nothrow);
    if (!p) return wm::Error{{}, {}, {}, "mygpu: out of memory", wm::ErrorCode::kOutOfMemory};
    return wm::DeviceBuffer{p, 0, nullptr, n};
  }
  void free(const wm::DeviceBuffer& b) override { ::operator delete(b.handle, std::align_val_t{kAlign}); }
  void upload(const wm::DeviceBuffer& b, uint64_t off, const std::byte* src, uint64_t n, wm::UploadDone done) override {
    std::memcpy(static_cast<std::byte*>(b.handle) + off, src, n);
    done(wm::Status());
  }
  wm::Status synchronize() override { return {}; }
  wm::Status download(const wm::DeviceBuffer& b, uint64_t off, std::byte* dst, uint64_t n) override {
    std::memcpy(dst, static_cast<const std::byte*>(b.handle) + off, n);
    return {};
  }

 private:
  static constexpr std::size_t kAlign = 4096;
  wm::DeviceCaps caps_;
};

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: engine_example MODEL [LORA]\n"), 2;
  wm::Options options;
  options.devices = {std::make_shared<MyGpu>()};
  options.device_rules = "*.norm*=cpu,*=mygpu";  // norms stay mapped on the host, the rest to the GPU
  auto model = wm::open(argv[1], options);
  if (!model) return std::fprintf(stderr, "%s\n", model.error().to_string().c_str()), 1;

  std::map<std::string, const void*> bound;  // what an engine keeps: one pointer per weight
  auto bind = [&](size_t i) {
    const wm::Tensor& t = model->tensor(i);
    bound[t.name] = t.on_device ? t.device_buffer.handle : static_cast<const void*>(t.host_data);
  };
  for (size_t i = 0; i < model->size(); ++i) bind(i);
  std::printf("%zu tensors bound; %llu bytes mapped, %llu on mygpu\n", bound.size(),
              static_cast<unsigned long long>(model->report().bytes_mapped),
              static_cast<unsigned long long>(model->report().device_bytes));

  if (argc > 2) {  // LoRA: re-bind exactly the tensors whose pointers moved
    auto lora = model->apply_loras({{argv[2], 1.0f}});
    if (!lora) return std::fprintf(stderr, "%s\n", lora.error().to_string().c_str()), 1;
    for (size_t i : lora->moved) bind(i);
    std::printf("lora: %zu moved, %zu changed in place, generation %llu\n", lora->moved.size(),
                lora->changed_in_place.size(), static_cast<unsigned long long>(model->generation()));
  }
  return 0;
}
